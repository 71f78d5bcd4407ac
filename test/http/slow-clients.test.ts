/**
 * Slow clients against a spawned collector (Bun.serve with IDLE_TIMEOUT_SECONDS = 30):
 * 60 connections that send their headers a line a second, 60 that send a body a byte a
 * second, and 20 that stop mid-body. Webhooks sent meanwhile get 202 promptly; the header
 * trickles are closed after ~10 s and the body trickles after ~30 s, with no answer and
 * nothing stored; the log says the collector's timeout cut them, not that the client hung up.
 */
import net from 'node:net'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { tally, v1Body } from '../helpers/traffic.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('slow_clients') })
afterAll(async () => { await db.drop() })

interface Trickle { closedAfterMs: number | null; answer: string; socket: net.Socket }

/** A connection that writes `head`, then one piece of `drip` a second (stopping after `stopAfter` pieces). */
function trickle(port: number, head: string, drip: (n: number) => string, stopAfter = Infinity): Trickle {
  const started = Date.now()
  const socket = net.connect(port, '127.0.0.1', () => socket.write(head))
  const t: Trickle = { closedAfterMs: null, answer: '', socket }
  let n = 0
  const timer = setInterval(() => { if (!socket.destroyed && n < stopAfter) socket.write(drip(n++)) }, 1000)
  socket.on('data', (chunk) => { t.answer += chunk })
  socket.on('error', () => {})
  socket.on('close', () => { clearInterval(timer); t.closedAfterMs = Date.now() - started })
  return t
}

test('slow headers and slow bodies are cut (10 s, 30 s) with nothing stored, while webhooks get 202 promptly', async () => {
  const collector = await spawnCollector({ DATA_DIR: tempDir('slow-clients'), DATABASE_URL: db.url })
  const port = Number(new URL(collector.url).port)
  const body = v1Body(['slow-never'])
  const headers = Array.from({ length: 60 }, () => trickle(port, 'POST /com.pagerduty/v1?aid=slow HTTP/1.1\r\nHost: x\r\n', (n) => `X-Line-${n}: a\r\n`))
  const bodyHead = `POST /com.pagerduty/v1?aid=slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`
  const bodies = Array.from({ length: 60 }, () => trickle(port, bodyHead, (n) => body[n] ?? ' '))
  const stopped = Array.from({ length: 20 }, () => trickle(port, bodyHead, (n) => body[n] ?? ' ', 3))
  const slow = [...headers, ...bodies, ...stopped]
  try {
    const acked = new Set<string>()
    let slowest = 0
    for (let n = 0; slow.some((t) => t.closedAfterMs === null) && n < 150; n++) {
      const sent = performance.now()
      const res = await postJson(`${collector.url}/com.pagerduty/v1?aid=legit`, v1Body([`slow-legit-${n}`]))
      slowest = Math.max(slowest, performance.now() - sent)
      expect(res.status).toBe(202)
      acked.add(`slow-legit-${n}`)
      await Bun.sleep(300)
    }
    expect(slowest).toBeLessThan(2000)
    for (const t of headers) {
      expect(t.closedAfterMs).toBeGreaterThan(8_000)
      expect(t.closedAfterMs).toBeLessThan(16_000)
      expect(t.answer).toBe('')
    }
    for (const t of [...bodies, ...stopped]) {
      expect(t.closedAfterMs).toBeGreaterThan(25_000)
      expect(t.closedAfterMs).toBeLessThan(40_000)
      expect(t.answer).toBe('')
    }
    await eventually(async () => (await tally(db.sql, acked, 'slow-legit')).loaded === acked.size, 20_000, 'the webhooks to load')
    expect(await db.sql`select 1 from atomic.events where app_id = 'slow'`).toHaveLength(0)
    expect(await db.sql`select 1 from atomic.bad_rows`).toHaveLength(0)
    const lines = collector.output().split('\n').filter((l) => l.includes('webhook abandoned'))
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.every((l) => l.includes('its body had not all arrived 30 s after its headers (the idle timeout), so the collector closed the connection'))).toBe(true)
  } finally {
    for (const t of slow) t.socket.destroy()
    collector.proc.kill('SIGTERM')
    await collector.proc.exited
  }
}, 90_000)
