/**
 * Chaos run: `bun bench/chaos.ts [seconds=60]`. Clients post unique v1 messages to a spawned
 * collector while, at random moments, the collector is SIGKILLed and restarted or the
 * database (a PostgreSQL cluster of our own, see test/helpers/cluster.ts) is stopped with
 * `-m immediate` for 1-4 s and started again. At the end it waits for the backlog and prints
 * `acked N, loaded N, lost N, duplicated N`; exit status 1 if anything was lost or duplicated.
 * Never part of `npm test`.
 */
import fs from 'node:fs'
import postgres from 'postgres'
import { spawnCollector, type Spawned } from '../test/helpers/collector.ts'
import { createCluster } from '../test/helpers/cluster.ts'
import { tempDir } from '../test/helpers/database.ts'
import { formatTally, startLoad, untilLoaded } from '../test/helpers/traffic.ts'

const seconds = Number(process.argv[2] ?? 60)
const clients = Number(process.env.CHAOS_CLIENTS ?? 4)
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo))
const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)

const cluster = createCluster('chaos')
const dataDir = tempDir('chaos')
const env = { DATA_DIR: dataDir, DATABASE_URL: cluster.url }
const sql = postgres(cluster.url, { max: 1, onnotice: () => {} })
let collector: Spawned = await spawnCollector(env)
let url = collector.url
const load = startLoad({ url: () => url, clients, prefix: 'chaos', pauseMs: 2 })
const counts = { kills: 0, outages: 0 }
let logs = ''
let exitCode = 1
try {
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    await Bun.sleep(between(500, 3000))
    if (Math.random() < 0.6) {
      collector.proc.kill('SIGKILL')
      await collector.proc.exited
      counts.kills++
      logs += collector.output()
      collector = await spawnCollector(env)
      url = collector.url
    } else {
      cluster.stop('immediate')
      counts.outages++
      await Bun.sleep(between(1000, 4000))
      cluster.start()
    }
    say(`${counts.kills} kills, ${counts.outages} outages, ${load.acked.size} acked`)
  }
  await load.stop()
  const started = performance.now()
  const result = await untilLoaded(sql, load.acked, 'chaos', Number(process.env.CHAOS_DRAIN_MS ?? 120_000))
  const statuses = Object.fromEntries(load.statuses)
  const survived = (logs + collector.output()).split('postgres.js nextWrite on a closed socket').length - 1
  process.stdout.write(`chaos ${seconds} s: ${counts.kills} SIGKILLs, ${counts.outages} database crashes (-m immediate); responses by status (0 = connection refused or cut by a kill): ${JSON.stringify(statuses)}; backlog loaded ${Math.round(performance.now() - started)} ms after the load stopped; postgres.js null-socket writes survived: ${survived}\n`)
  process.stdout.write(`${formatTally(result)}\n`)
  exitCode = result.lost === 0 && result.duplicated === 0 && result.loaded === result.acked ? 0 : 1
} finally {
  await load.stop()
  collector.proc.kill('SIGTERM')
  await collector.proc.exited
  await sql.end({ timeout: 1 })
  cluster.destroy()
  if (exitCode === 0) fs.rmSync(dataDir, { recursive: true, force: true })
  else {
    fs.writeFileSync(`${dataDir}/collector.log`, collector.output())
    say(`kept ${dataDir} (spool and the last collector's log) for a post-mortem`)
  }
}
process.exit(exitCode)
