/**
 * The embedded database's open held up (strace holds PGlite's read of PG_VERSION for 25 s,
 * as a slow or hung disk would) over a backlog left in the spool by an earlier run:
 * - collector_oldest_unloaded_age_seconds read 0 all the while (there was no writer yet to
 *   ask), hiding a backlog as old as the outage before the restart; now it is the spool's.
 * - a SIGTERM waited for the open to end (with a hang, until systemd's SIGKILL at
 *   TimeoutStopSec); now the stop gives the open up at once, says so, and exits 0, and the
 *   next start loads the backlog.
 * A thread held by strace cannot end until strace lets it go, so the process's own exit comes
 * when the 25 s are up; everything else (the log line, the port) is at once.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { startEmbedded } from '../../src/db/embedded.ts'
import { BUN, ROOT, loadedAtNextStart, postJson, spawnStarting, startInProcess } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'
import { v1Body } from '../helpers/traffic.ts'

const strace = Bun.which('strace')
const dataDir = tempDir('hung-open')
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const HOLD_SECONDS = 25

test.skipIf(!strace)('the embedded database\'s open held up: the backlog\'s age shows from the start, and a SIGTERM stops at once with exit 0; the next start loads the backlog', async () => {
  // The cluster, made beforehand (so the start only opens it), and a backlog: one webhook
  // acknowledged by a collector whose database is unreachable.
  await (await startEmbedded({ dataDir })).stop()
  const earlier = await startInProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable', DATA_DIR: dataDir })
  const postedAt = Date.now()
  expect((await postJson(`${earlier.url.href}com.pagerduty/v1`, v1Body(['hung-open-1']))).status).toBe(202)
  await earlier.stop()
  await Bun.sleep(1500)

  const port = 32_000 + Math.floor(Math.random() * 2000)
  const held = path.join(dataDir, 'pglite', 'PG_VERSION')
  const traced = [strace as string, '-f', '-qq', '-o', '/dev/null', '-P', held, '-e', 'trace=openat', '-e', `inject=openat:delay_exit=${HOLD_SECONDS * 1_000_000}`]
  const { proc, output } = spawnStarting([...traced, BUN, path.join(ROOT, 'src/main.ts'), 'serve'], { PORT: String(port), DATA_DIR: dataDir })
  // The collector itself, not strace: signals go to it.
  let pid = 0
  try {
    const spawnedAt = Date.now()
    while (!output().includes('"msg":"accepting webhooks; opening the embedded database"')) {
      expect(Date.now() - spawnedAt).toBeLessThan(20_000)
      await Bun.sleep(20)
    }
    pid = Number(fs.readFileSync(path.join(dataDir, 'collector.lock'), 'utf8').trim())
    // PGlite reads PG_VERSION within a second or two of the thread starting; then it is held.
    await Bun.sleep(3000)
    const scraped = Date.now()
    const metrics = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
    expect(sampleValue(metrics, 'collector_spool_backlog_events')).toBe(1)
    const age = sampleValue(metrics, 'collector_oldest_unloaded_age_seconds') as number
    expect(age).toBeGreaterThanOrEqual((scraped - postedAt) / 1000 - 2)
    expect(age).toBeLessThanOrEqual((Date.now() - postedAt) / 1000 + 1)
    const ready = await (await fetch(`http://127.0.0.1:${port}/ready`)).json() as { database: { state: string }; writer: { oldest_unloaded_received_at: string | null } }
    expect(ready.database.state).toBe('unknown')
    expect(Math.abs(Date.parse(ready.writer.oldest_unloaded_received_at ?? '') - postedAt)).toBeLessThan(2000)
    expect(output()).not.toContain('"msg":"collector started"')

    const signalled = Date.now()
    process.kill(pid, 'SIGTERM')
    while (!output().includes('"msg":"collector stopped"')) {
      expect(Date.now() - signalled).toBeLessThan(5000)
      await Bun.sleep(20)
    }
    expect(await fetch(`http://127.0.0.1:${port}/health`).then(() => 'answered', () => 'refused')).toBe('refused')
    expect(output()).toContain('"msg":"stop requested while the embedded database opens: refusing new webhooks and stopping without waiting for it; acknowledged webhooks are in the spool and load at the next start","backlog_events":1')
    expect(output()).not.toContain('"msg":"collector started"')
    expect(await proc.exited).toBe(0)
  } finally {
    // strace detaches when killed and its tracee runs on: end the collector itself.
    try { if (pid > 0) process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    proc.kill('SIGKILL')
    await proc.exited
  }

  expect(await loadedAtNextStart(dataDir, new Set(['hung-open-1']), 'hung-open')).toEqual({ acked: 1, loaded: 1, lost: 0, duplicated: 0 })
}, 120_000)
