/**
 * Slow clients against a spawned collector (Bun.serve with IDLE_TIMEOUT_SECONDS = 30):
 * 60 connections that send their headers a line a second, 60 that send a body a byte a
 * second, and 20 that stop mid-body. Webhooks sent meanwhile get 202 promptly; the header
 * trickles are closed after ~10 s and the body trickles after ~30 s, with no answer and
 * nothing stored; the log says the collector's timeout cut them, not that the client hung up.
 * Then the framing docs/operating.md's table states: 431, 100-continue, a chunked 413.
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

/** Bytes on a socket of their own; resolves with what came back once the server closes (or after 10 s). */
function exchange(port: number, parts: readonly (string | Uint8Array)[]): Promise<string> {
  return new Promise((resolve) => {
    let answer = ''
    const socket = net.connect(port, '127.0.0.1', () => { for (const part of parts) socket.write(part) })
    const timer = setTimeout(() => socket.destroy(), 10_000)
    socket.on('data', (chunk) => { answer += chunk })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
  })
}

test('oversized headers and URLs get 431; Expect: 100-continue gets 100 then 202; a chunked body over MAX_BODY_BYTES gets 413', async () => {
  const collector = await spawnCollector({ DATA_DIR: tempDir('edge-framing'), DATABASE_URL: db.url })
  const port = Number(new URL(collector.url).port)
  const body = v1Body(['edge-expect'])
  const head = (target: string, extra = '') => `POST ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n${extra}`
  const status = (answer: string) => answer.split('\r\n')[0]
  try {
    expect(status(await exchange(port, [`${head('/com.pagerduty/v1', `X-Big: ${'a'.repeat(17_000)}\r\n`)}Content-Length: ${body.length}\r\n\r\n${body}`]))).toBe('HTTP/1.1 431 Request Header Fields Too Large')
    expect(status(await exchange(port, [`${head(`/com.pagerduty/v1?aid=${'a'.repeat(65_536)}`)}Content-Length: ${body.length}\r\n\r\n${body}`]))).toBe('HTTP/1.1 431 Request Header Fields Too Large')
    // A hundred header lines are fine (500 are a 431).
    const many = v1Body(['edge-headers'])
    expect(status(await exchange(port, [`${head('/com.pagerduty/v1?aid=edge', Array.from({ length: 100 }, (_, n) => `X-Line-${n}: a\r\n`).join(''))}Content-Length: ${many.length}\r\n\r\n${many}`]))).toBe('HTTP/1.1 202 Accepted')
    expect(status(await exchange(port, [`${head('/com.pagerduty/v1', Array.from({ length: 500 }, (_, n) => `X-Line-${n}: a\r\n`).join(''))}Content-Length: ${many.length}\r\n\r\n${many}`]))).toBe('HTTP/1.1 431 Request Header Fields Too Large')
    const expect100 = await exchange(port, [`${head('/com.pagerduty/v1?aid=edge', 'Expect: 100-continue\r\n')}Content-Length: ${body.length}\r\n\r\n`, body])
    expect(expect100.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n')).toBe(true)
    const chunk = `10000\r\n${' '.repeat(0x10000)}\r\n`
    const chunked = await exchange(port, [`${head('/com.pagerduty/v1', 'Transfer-Encoding: chunked\r\n')}\r\n`, ...Array.from({ length: 32 }, () => chunk), '0\r\n\r\n'])
    expect(status(chunked)).toBe('HTTP/1.1 413 Payload Too Large')
    expect(chunked).toContain('"code":"PAYLOAD_TOO_LARGE"')
  } finally {
    collector.proc.kill('SIGTERM')
    await collector.proc.exited
  }
}, 60_000)

test('stalled large uploads: past 64 MiB of bodies in flight a large one gets 503 at once, nothing read; small webhooks still get 202', async () => {
  const collector = await spawnCollector({ DATA_DIR: tempDir('bodies-in-flight'), DATABASE_URL: db.url })
  const port = Number(new URL(collector.url).port)
  const MIB = 1024 * 1024
  // 100 uploads declaring 1 MiB (MAX_BODY_BYTES) that send all but the last byte and stall.
  const stalled = Array.from({ length: 100 }, () => trickle(port, `POST /com.pagerduty/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MIB}\r\n\r\n${' '.repeat(MIB - 1)}`, () => '', 0))
  const answered = () => stalled.filter((t) => t.answer !== '')
  try {
    await eventually(() => answered().length >= 36, 20_000, '36 answers')
    await Bun.sleep(500)
    // 64 MiB holds 64 of them; the other 36 were answered before their bodies were read.
    expect(answered().length).toBe(36)
    for (const t of answered()) {
      expect(t.answer.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable')
      expect(t.answer.toLowerCase()).toContain('retry-after: 30')
      expect(t.answer).toContain('"code":"BODIES_IN_FLIGHT"')
    }
    // PagerDuty's webhooks (a few KiB) go ahead meanwhile; a large one waits for room.
    expect((await postJson(`${collector.url}/com.pagerduty/v1`, v1Body(['in-flight-small']))).status).toBe(202)
    const large = v1Body(['in-flight-large']).replace('{"messages"', `{"padding":"${' '.repeat(256 * 1024)}","messages"`)
    expect((await postJson(`${collector.url}/com.pagerduty/v1`, large)).status).toBe(503)
    for (const t of stalled) t.socket.destroy()
    await eventually(async () => (await postJson(`${collector.url}/com.pagerduty/v1`, large)).status === 202, 10_000, 'the large webhook taken once the stalled ones are gone')
    await eventually(async () => (await tally(db.sql, new Set(['in-flight-small', 'in-flight-large']), 'in-flight')).loaded === 2, 20_000, 'both loaded')
    const lines = collector.output().split('\n').filter((l) => l.includes('too many bytes of webhook bodies')).map((l) => JSON.parse(l) as { level: string; max_bytes: number })
    expect(lines[0]).toMatchObject({ level: 'warn', max_bytes: 64 * MIB })
  } finally {
    for (const t of stalled) t.socket.destroy()
    collector.proc.kill('SIGTERM')
    await collector.proc.exited
  }
}, 60_000)
