/**
 * A database outage under load, on a PostgreSQL cluster this test owns: stopped with
 * `-m immediate` (a crash), every request is still acknowledged from the spool and memory
 * stays flat; restarted, the backlog loads, each acknowledged message exactly once.
 * Needs no TEST_DATABASE_URL; skipped only where initdb is missing.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import postgres from 'postgres'
import { tempDir } from '../helpers/database.ts'
import { spawnCollector } from '../helpers/collector.ts'
import { CLUSTER_BIN, createCluster, type Cluster } from '../helpers/cluster.ts'
import { formatTally, startLoad, untilLoaded } from '../helpers/traffic.ts'
import { COLUMN_TYPES } from '../../src/db/connect.ts'

let cluster: Cluster | null = null
let dataDir: string | null = null
afterAll(() => {
  cluster?.destroy()
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
})

/** Resident memory of a process in KiB, from /proc (Linux). */
const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])

test.skipIf(!CLUSTER_BIN)('a database crash under load: every request still gets 202, memory stays flat, and all of it loads exactly once after the restart', async () => {
  cluster = createCluster('outage')
  dataDir = tempDir('outage')
  const collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: cluster.url })
  const load = startLoad({ url: () => collector.url, clients: 4, prefix: 'outage' })
  const sql = postgres(cluster.url, { max: 1, onnotice: () => {}, types: COLUMN_TYPES })
  try {
    await Bun.sleep(1000)
    const crashedAt = Date.now()
    cluster.stop('immediate')
    const before = { acked: load.acked.size, statuses: new Map(load.statuses) }
    const rss: number[] = []
    for (let i = 0; i < 15; i++) {
      rss.push(rssKiB(collector.proc.pid))
      await Bun.sleep(200)
    }
    const during = load.acked.size - before.acked
    const refusedDuring = [...load.statuses].filter(([s]) => s !== 202).reduce((n, [s, c]) => n + c - (before.statuses.get(s) ?? 0), 0)
    const ready = (await (await fetch(`${collector.url}/ready`)).json()) as { status: string; database: { state: string; last_error: string | null }; spool: { backlog_events: number }; writer: { oldest_unloaded_received_at: string | null } }
    const metrics = await (await fetch(`${collector.url}/metrics`)).text()
    cluster.start()
    await Bun.sleep(500)
    await load.stop()

    expect(refusedDuring).toBe(0)
    expect(during).toBeGreaterThan(100)
    expect(ready.status).toBe('ready')
    expect(ready.database.state).toBe('down')
    expect(ready.spool.backlog_events).toBeGreaterThan(100)
    // The tables are complete up to about the crash: the oldest webhook waiting came then.
    expect(Math.abs(Date.parse(ready.writer.oldest_unloaded_received_at ?? '') - crashedAt)).toBeLessThan(2000)
    expect(Number(/^collector_oldest_unloaded_age_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(2)
    const result = await untilLoaded(sql, load.acked, 'outage')
    console.log(`outage test: ${formatTally(result)}; ${during} acknowledged during the 3 s outage, none refused; VmRSS during the outage (KiB): ${rss.join(' ')}`)
    expect(result).toEqual({ acked: load.acked.size, loaded: load.acked.size, lost: 0, duplicated: 0 })
  } finally {
    await load.stop()
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
    await sql.end({ timeout: 1 })
  }
}, 60_000)
