/**
 * `bun bench/cost.ts [VARIANT ...]`: CPU per request at a fixed offered rate (open loop,
 * bench/paced.ts), which is steadier on a shared machine than requests/s at saturation. Each
 * round measures the bare Bun.serve, then the collector once per variant (`-` for none, else
 * comma-separated ENV=value pairs given to the collector, `BIN=path` for another binary; see
 * bench/lib/variant.ts), from source unless BIN is set.
 * Per request it prints the collector's user and system CPU (all its threads, /proc), and
 * PostgreSQL's CPU (all its processes) when the database is up, with the backlog loaded.
 *
 * Environment: RATE (default 3000 req/s), SECONDS (6), ROUNDS (3), DB (a database URL; unset:
 * an unreachable one, so only the accept path runs), BIN (a collector binary).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { cpuSecondsOf, cpuTimesOfPid } from './lib/machine.ts'
import { waitDrained } from './lib/metrics.ts'
import { ROOT, UNREACHABLE_DATABASE, runPaced, startBare, startCollector, type Running } from './lib/processes.ts'
import { writeTemplate } from './lib/template.ts'
import { parseVariant } from './lib/variant.ts'

const variants = (process.argv.length > 2 ? process.argv.slice(2) : ['-']).map(parseVariant)
const rate = Number(process.env.RATE ?? 3000)
const seconds = Number(process.env.SECONDS ?? 6)
const rounds = Number(process.env.ROUNDS ?? 3)
const database = process.env.DB
const command = process.env.BIN ? [process.env.BIN] : [process.execPath, path.join(ROOT, 'src/main.ts')]

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-cost-'))
const template = writeTemplate(work, 1)

async function drained(c: Running, label: string): Promise<void> {
  if (database && label !== 'bare') await waitDrained(c, 120_000)
}

async function measure(c: Running, url: string, label: string): Promise<string> {
  // Warm up at the same rate first: the JIT's background compiles are not the requests' cost.
  await runPaced(url, rate, 2, template, `${label}-warm-${Date.now()}`)
  await drained(c, label)
  const { user: u0, system: s0 } = cpuTimesOfPid(c.pid)
  const pg0 = cpuSecondsOf('postgres')
  const run = await runPaced(url, rate, seconds, template, `${label}-${Date.now()}`)
  await drained(c, label)
  const { user: u1, system: s1 } = cpuTimesOfPid(c.pid)
  const us = (s: number) => ((s * 1e6) / Math.max(1, run.ok)).toFixed(0)
  const pg = database && label !== 'bare' ? `, PostgreSQL ${us(cpuSecondsOf('postgres') - pg0)}` : ''
  return `${label}: user ${us(u1 - u0)} + sys ${us(s1 - s0)} us/request${pg} (p99 ${run.p99_ms.toFixed(1)} ms)`
}

try {
  process.stdout.write(`${rate} req/s for ${seconds} s, ${database ? 'database up' : 'database unreachable'}\n`)
  for (let round = 0; round < rounds; round++) {
    const line: string[] = []
    const bare = await startBare()
    line.push(await measure(bare, `${bare.base}/com.pagerduty/v1`, 'bare'))
    await bare.stop()
    for (const variant of variants) {
      const c = await startCollector({ DATABASE_URL: database ?? UNREACHABLE_DATABASE, DATA_DIR: fs.mkdtempSync(path.join(work, 'data-')), ...variant.env }, variant.command ?? command)
      line.push(await measure(c, `${c.base}/com.pagerduty/v1`, variant.label))
      await c.stop()
    }
    process.stdout.write(`${line.join(' | ')}\n`)
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
