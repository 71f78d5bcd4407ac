/**
 * `bun bench/profile.ts [seconds]`: runs the collector from source under `bun --cpu-prof`,
 * drives it with wrk, lets the writer drain, and prints the functions with the most self
 * time (the hot path) from the .cpuprofile. Needs PostgreSQL as `npm run bench` does.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { scrape } from './lib/metrics.ts'
import { ROOT, startCollector, UNREACHABLE_DATABASE } from './lib/processes.ts'
import { writeTemplate } from './lib/template.ts'
import { runWrk } from './lib/wrk.ts'

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const seconds = Number(process.argv[2] ?? 10)
const down = process.env.DOWN === '1'
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-profile-'))
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `pdc_profile_${process.pid}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(serverUrl)
url.pathname = `/${name}`
try {
  const template = writeTemplate(work, Number(process.env.EVENTS ?? 1))
  const c = await startCollector({ DATABASE_URL: down ? UNREACHABLE_DATABASE : url.href, DATA_DIR: path.join(work, 'data') }, [process.execPath, '--cpu-prof', `--cpu-prof-dir=${work}`, path.join(ROOT, 'src/main.ts')])
  const run = await runWrk({ url: `${c.base}/com.pagerduty/v1`, connections: 64, threads: 2, seconds, template, prefix: `p${Date.now()}` })
  process.stderr.write(`profile: ${Math.round(run.okRps)} req/s accepted\n`)
  for (let i = 0; i < 600 && !down && (await scrape(c.base)).backlog > 0; i++) await Bun.sleep(100)
  await c.stop()
  const file = fs.readdirSync(work).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error('no .cpuprofile written')
  const profile = JSON.parse(fs.readFileSync(path.join(work, file), 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const n = byId.get(id)
    const dt = profile.timeDeltas[i] ?? 0
    total += dt
    if (!n) return
    const f = n.callFrame
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(ROOT, '').replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + dt)
  })
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)
  for (const [key, us] of top) process.stdout.write(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}\n`)
  fs.copyFileSync(path.join(work, file), path.join(os.tmpdir(), 'collector.cpuprofile'))
  process.stderr.write(`profile: full profile in ${path.join(os.tmpdir(), 'collector.cpuprofile')}\n`)
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
  fs.rmSync(work, { recursive: true, force: true })
}
