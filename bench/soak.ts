/**
 * Soak: `bun bench/soak.ts [minutes=25]`. Runs dist/collector (build it first: npm run build)
 * with deploy/collector.service's environment against a database of its own (SOAK_DATABASE,
 * default soak_<pid>, created on the server of SOAK_SERVER_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, dropped at the end unless SOAK_KEEP=1),
 * reached through test/helpers/tcp-proxy.ts. A paced mix of webhooks (SOAK_RATE per second,
 * default 400: v1, v2, v3, pings, bad messages, bodies that are not JSON, wrong
 * credentials) runs throughout; every SOAK_DISRUPT_EVERY_S (default 150) one disruption in
 * turn: the database connections cut for 20 s, 100 stalled clients held 40 s, 20 bodies of
 * 500 KiB at once, the database connections frozen (no reset, no answer). `/metrics` and
 * `/ready` are scraped every 5 s; `spool status` and `bad-rows retry` run every
 * SOAK_CLI_EVERY_S (default 240).
 * Every 10 s a sample (bench/lib/soak-sample.ts) is taken. At the end: the backlog drained,
 * every acknowledged event id in atomic.events exactly once and every acknowledged bad row
 * in atomic.bad_rows exactly once, and the first and the last 5 minutes of steady state
 * compared. Exit status 1 on a loss, a duplicate or an unclean stop. Never part of npm test.
 * SOAK_SOURCE=1 runs `bun src/main.ts` instead, probing its heap every 30 s (bench/lib/soak-heap.ts).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startTcpProxy } from '../test/helpers/tcp-proxy.ts'
import { slowAnswers } from './lib/metrics.ts'
import { BINARY, UNIT_ENV, randomPort, waitReady } from './lib/processes.ts'
import { periodTable, sampler, window, type Sample } from './lib/soak-sample.ts'
import { AUTH, largeBurst, newTally, stalledBurst, startPacedLoad } from './lib/soak-traffic.ts'

const minutes = Number(process.argv[2] ?? 25)
const rate = Number(process.env.SOAK_RATE ?? 400)
const disruptEveryS = Number(process.env.SOAK_DISRUPT_EVERY_S ?? 150)
const serverUrl = process.env.SOAK_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const database = process.env.SOAK_DATABASE ?? `soak_${process.pid}`
const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)
if (!fs.existsSync(BINARY)) throw new Error(`${BINARY} is missing: npm run build`)

const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
// Never dropped first: a SOAK_DATABASE that exists is someone's, and the run stops here.
await admin.unsafe(`create database ${database}`)
const target = new URL(serverUrl)
const direct = new URL(serverUrl)
direct.pathname = `/${database}`
const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) })
const viaProxy = new URL(direct.href)
viaProxy.host = `127.0.0.1:${proxy.port}`
const sql = postgres(direct.href, { max: 1, onnotice: () => {} })

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-'))
const dataDir = path.join(work, 'data')
const logFile = path.join(work, 'collector.log')
const port = randomPort()
const env = { DATA_DIR: dataDir, DATABASE_URL: viaProxy.href, BASIC_AUTH_USERS: AUTH }
// SOAK_SOURCE=1: the collector from source with a heap probe (bench/lib/soak-heap.ts), to name what grows.
const source = process.env.SOAK_SOURCE === '1'
const heapFile = path.join(work, 'heap.jsonl')
const command = source ? [process.execPath, path.join(import.meta.dir, 'lib', 'soak-heap.ts'), 'serve'] : [BINARY, 'serve']
const proc = Bun.spawn(command, {
  env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...UNIT_ENV, ...env, ...(source ? { SOAK_HEAP_FILE: heapFile } : {}) },
  stdout: Bun.file(logFile),
  stderr: Bun.file(path.join(work, 'collector.err')),
})
const base = `http://127.0.0.1:${port}`
const started = performance.now()
await waitReady(base, started)
say(`collector pid ${proc.pid} on ${base}, DATA_DIR ${dataDir}, database ${database} via proxy :${proxy.port}, ${rate}/s for ${minutes} min`)

const tally = newTally()
const samples: Sample[] = []
const events: string[] = []
const note = (what: string) => { events.push(`${Math.round((performance.now() - started) / 1000)} s: ${what}`); say(what) }
const sample = sampler(proc.pid, dataDir, base, sql, database, started)
const scrapes = { ok: 0, failed: 0, notReady: 0 }
const timers: ReturnType<typeof setInterval>[] = []
timers.push(setInterval(async () => {
  try { samples.push(await sample()) } catch (error) { note(`sample failed: ${error}`) }
}, 10_000))
timers.push(setInterval(async () => {
  try {
    const [m, r] = await Promise.all([fetch(`${base}/metrics`), fetch(`${base}/ready`)])
    await Promise.all([m.arrayBuffer(), r.arrayBuffer()])
    scrapes.ok++
    if (r.status !== 200) scrapes.notReady++
  } catch { scrapes.failed++ }
}, 5_000))
const cli = async (args: string[]) => {
  const run = Bun.spawn([BINARY, ...args], { env: { PATH: process.env.PATH ?? '', ...UNIT_ENV, ...env, DATABASE_URL: direct.href }, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited])
  note(`${args.join(' ')}: exit ${code}; ${(out + err).trim().split('\n').at(-1)?.slice(0, 200)}`)
}
const cliEveryS = Number(process.env.SOAK_CLI_EVERY_S ?? 240)
timers.push(setInterval(() => { cli(['spool', 'status']).then(() => cli(['bad-rows', 'retry'])).catch((error) => note(`command failed: ${error}`)) }, cliEveryS * 1000))

const load = startPacedLoad(base, rate, tally, `s${process.pid.toString(36)}`)
const disruptions = [
  async () => { note('database connections cut (proxy closed) for 20 s'); proxy.close(); await Bun.sleep(20_000); proxy.open(); note('proxy open again') },
  async () => { const r = await stalledBurst(port, 100, 40_000); note(`100 stalled clients held 40 s: the collector closed ${r.closedByServer}`) },
  async () => { const s = await largeBurst(base, 20, tally, `L${Date.now().toString(36)}`); note(`20 bodies of 500 KiB: statuses ${s.join(',')}`) },
  async () => { proxy.freeze(); note('database connections frozen (no reset, no answer)') },
]
let exitCode = 1
try {
  const until = started + minutes * 60_000
  for (let i = 0; performance.now() + disruptEveryS * 1000 < until; i++) {
    await Bun.sleep(disruptEveryS * 1000)
    await disruptions[i % disruptions.length]?.()
  }
  await Bun.sleep(Math.max(0, until - performance.now()))
  await load.stop()
  const loadEnd = (performance.now() - started) / 1000
  note(`load stopped; ${tally.webhooks} webhooks acknowledged, ${load.skipped()} sends skipped (64 already in flight)`)
  for (const t of timers) clearInterval(t)
  const drainUntil = Date.now() + 300_000
  for (;;) {
    const s = await sample()
    if (s.backlog === 0 || Date.now() > drainUntil) break
    await Bun.sleep(1000)
  }
  note('backlog drained; idle 30 s')
  await Bun.sleep(30_000)
  const idle = await sample()
  samples.push(idle)

  const loaded = new Map<string, number>()
  for (const r of await sql`select event_id, count(*)::int as n from atomic.events group by event_id`) loaded.set(String(r.event_id), Number(r.n))
  const badLoaded = new Map<string, number>()
  for (const r of await sql`select substring(payload from '"id":"(s[a-z0-9]+-[0-9]+-(?:bad|junk))"') as k, count(*)::int as n from atomic.bad_rows group by 1`) if (r.k) badLoaded.set(String(r.k), Number(r.n))
  const lost = [...tally.events].filter((e) => !loaded.has(e)).length
  const duplicated = [...loaded.values()].filter((n) => n > 1).length
  const badLost = [...tally.bad].filter((b) => !badLoaded.has(b)).length
  const badDuplicated = [...badLoaded.values()].filter((n) => n > 1).length

  const finalMetrics = await (await fetch(`${base}/metrics`)).text()
  const slow = (le: string) => slowAnswers(finalMetrics, le)
  proc.kill('SIGTERM')
  const code = await proc.exited
  const steady = [120, 420] as const
  const last = [loadEnd - 300, loadEnd] as const
  const keys: (keyof Sample)[] = ['rssKiB', 'hwmKiB', 'fds', 'sockets', 'threads', 'backends', 'backendAnonKiB', 'statements', 'spoolSegments', 'spoolBytes', 'backlog']
  const lines = [
    `soak ${minutes} min at ${rate}/s (${samples.length} samples every 10 s); load ${Math.round(loadEnd)} s`,
    `responses by kind:status ${JSON.stringify(Object.fromEntries([...tally.statuses].sort()))}`,
    `scrapes of /metrics and /ready every 5 s: ${scrapes.ok} answered, ${scrapes.failed} failed, ${scrapes.notReady} /ready not 200`,
    `events: acked ${tally.events.size}, loaded ${tally.events.size - lost}, lost ${lost}, duplicated ${duplicated} (rows in atomic.events ${[...loaded.values()].reduce((a, b) => a + b, 0)})`,
    `bad rows: acked ${tally.bad.size}, loaded ${tally.bad.size - badLost}, lost ${badLost}, duplicated ${badDuplicated}`,
    `webhooks the collector answered (its own histogram): ${slow('1').total}, over 0.1 s ${slow('0.1').over}, over 1 s ${slow('1').over}; sent ${Math.round(tally.sent / loadEnd)}/s`,
    `SIGTERM: exit ${code}`,
    '',
    `| measure | first 5 min of steady state (${steady[0]}-${steady[1]} s) median [min-max] | last 5 min (${Math.round(last[0])}-${Math.round(last[1])} s) median [min-max] | drained, idle 30 s |`,
    '|---|---|---|---|',
    ...keys.map((k) => {
      const a = window(samples, k, ...steady)
      const b = window(samples, k, ...last)
      return `| ${k} | ${a.median} [${a.min}-${a.max}] | ${b.median} [${b.min}-${b.max}] | ${idle[k]} |`
    }),
    '',
    `medians per ${disruptEveryS} s (one disruption each, at its start):`,
    '',
    ...periodTable(samples, disruptEveryS, loadEnd),
    '',
    'disruptions and commands:',
    ...events.map((e) => `  ${e}`),
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  fs.writeFileSync(path.join(work, 'samples.json'), JSON.stringify(samples))
  fs.writeFileSync(path.join(work, 'statements.txt'), sample.statements().join('\n\n----\n\n'))
  // The spool is only kept for a post-mortem; the samples and the log always.
  if (code === 0) fs.rmSync(dataDir, { recursive: true, force: true })
  say(`samples in ${work}/samples.json, the collector's log in ${logFile}${source ? `, heap probes in ${heapFile}` : ''}`)
  exitCode = lost === 0 && duplicated === 0 && badLost === 0 && badDuplicated === 0 && code === 0 ? 0 : 1
} finally {
  for (const t of timers) clearInterval(t)
  await load.stop()
  if (proc.exitCode === null) { proc.kill('SIGTERM'); await proc.exited }
  await sql.end({ timeout: 1 })
  proxy.stop()
  if (process.env.SOAK_KEEP !== '1') await admin.unsafe(`drop database if exists ${database} with (force)`)
  await admin.end({ timeout: 1 })
}
process.exit(exitCode)
