/**
 * A disk that hangs (an fsync that does not return: a dying disk, a stalled network volume),
 * made real with strace's fault injection: the spool segment's fsync is delayed 13 s. Before,
 * nothing showed it while it lasted: /ready stayed 200 and the sync histogram records only
 * completions. Now /ready answers 503 with the reason after 10 s, collector_spool_writable
 * drops (CollectorSpoolNotWritable pages), the gauge counts the seconds, and the log says so
 * once, then again when the write returns; the webhook is answered 202 and loads.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { BUN, ROOT, eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { tally, v1Body } from '../helpers/traffic.ts'
import { segmentPath } from '../../src/spool/segments.ts'

const strace = Bun.which('strace')
let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('hung_disk') })
afterAll(async () => { await db.drop() })

const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1])

test.skipIf(!strace)('an fsync that hangs: /ready 503 with the reason after 10 s, the gauges, one log line each way; then 202, ready again, loaded', async () => {
  const dataDir = tempDir('hung-disk')
  // A fresh DATA_DIR's first segment; only fsyncs on it are delayed (-P), so start-up is not.
  const segment = segmentPath(path.join(dataDir, 'spool'), 1)
  const traced = [strace as string, '-f', '-qq', '-o', '/dev/null', '-P', segment, '-e', 'trace=fsync', '-e', 'inject=fsync:delay_exit=13000000', BUN, path.join(ROOT, 'src/main.ts')]
  const collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: db.url }, traced)
  const pid = Number(fs.readFileSync(path.join(dataDir, 'collector.lock'), 'utf8').trim())
  try {
    const posted = Date.now()
    const answer = postJson(`${collector.url}/com.pagerduty/v1`, v1Body(['hung-disk-1']))
    await eventually(async () => (await fetch(`${collector.url}/ready`)).status === 503, 20_000, '/ready 503')
    expect(Date.now() - posted).toBeGreaterThanOrEqual(9_500)
    const ready = await (await fetch(`${collector.url}/ready`)).json() as { reason: string; spool: { writable: boolean; writing_for_ms: number } }
    expect(ready.reason).toMatch(/^the spool's disk has not finished a write \(fsync\) for 1\d s: a hung disk\?$/)
    expect(ready.spool.writable).toBe(false)
    const metrics = await (await fetch(`${collector.url}/metrics`)).text()
    expect(gauge(metrics, 'collector_spool_writable')).toBe(0)
    expect(gauge(metrics, 'collector_spool_write_in_progress_seconds')).toBeGreaterThanOrEqual(10)

    expect((await answer).status).toBe(202)
    expect(Date.now() - posted).toBeGreaterThanOrEqual(12_500)
    expect((await fetch(`${collector.url}/ready`)).status).toBe(200)
    expect(gauge(await (await fetch(`${collector.url}/metrics`)).text(), 'collector_spool_write_in_progress_seconds')).toBe(0)
    await eventually(async () => (await tally(db.sql, new Set(['hung-disk-1']), 'hung-disk')).loaded === 1, 20_000, 'the webhook loaded')
    const lines = collector.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; msg: string })
    expect(lines.filter((l) => l.msg.startsWith('the spool\'s disk')).map((l) => [l.level, l.msg])).toEqual([
      ['error', 'the spool\'s disk has not finished a write for 10 s (a hung disk?): /ready answers 503 until it does; webhooks arriving meanwhile wait or get 503'],
      ['warn', 'the spool\'s disk finished the write it hung on'],
    ])
  } finally {
    // strace detaches when killed and its tracee runs on: end the collector itself.
    try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    collector.proc.kill('SIGKILL')
    await collector.proc.exited
  }
}, 60_000)
