/**
 * Varied chaos: `bun bench/chaos-mix.ts [seconds=60]`. Like bench/chaos.ts (a spawned
 * collector, a PostgreSQL cluster of our own), with knobs for the recovery paths it does not
 * reach, all from the environment (CHAOS_*), each run printing its settings and seed:
 *
 * - CHAOS_SEGMENT_BYTES, CHAOS_BATCH_MAX_ROWS, CHAOS_SPOOL_MAX_BYTES (with
 *   CHAOS_MAX_BODY_BYTES, default 1 MiB: 64KiB lets SPOOL_MAX_BYTES go down to 544 KiB),
 *   CHAOS_WRITE_TIMEOUT_MS, CHAOS_SHUTDOWN_DRAIN_MS: the collector's settings.
 * - CHAOS_MESSAGES=lo-hi: messages per v1/v2 webhook (more than BATCH_MAX_ROWS: one webhook
 *   is written in several statements).
 * - CHAOS_MIX=v1,v2,v3,bad,junk: webhook kinds posted; `bad` puts an unknown-type message beside
 *   good ones in v1 webhooks and posts v3 events of a type with no schema (bad rows, 2xx);
 *   `junk` posts bodies that are not JSON (400 once the raw body is durable in bad rows).
 * - CHAOS_SIGNAL=SIGKILL|SIGTERM|mix|term-kill: how the collector is stopped (term-kill: SIGTERM,
 *   then SIGKILL within 1.5 s, in the middle of the drain).
 * - CHAOS_PROXY=1: the collector reaches the database through test/helpers/tcp-proxy.ts, and
 *   some faults freeze its connections (no reset, no answer) instead of stopping the database.
 * - CHAOS_OUTAGE_MS=lo-hi: database outage lengths; CHAOS_FAULT_EVERY_MS=lo-hi: pause between
 *   faults; CHAOS_KILL_SHARE: the share of faults that stop the collector (the rest are
 *   outages or freezes); CHAOS_CLIENTS; CHAOS_DRAIN_MS: how long the backlog may take to load
 *   at the end; CHAOS_SEED: the seed of the fault schedule.
 *
 * At the end it waits for the backlog and prints acked/loaded/lost/duplicated for events and
 * for bad rows, and compares the writers' counts (the "collector stopped" log line of each
 * gracefully stopped process, /metrics of the last) with the tables. Exit status 1 on any
 * loss, duplicate or count that cannot be. Never part of `npm test`.
 */
import fs from 'node:fs'
import postgres from 'postgres'
import { pagerdutyEventId } from '../src/events/event-id.ts'
import { spawnCollector, type Spawned } from '../test/helpers/collector.ts'
import { createCluster } from '../test/helpers/cluster.ts'
import { tempDir } from '../test/helpers/database.ts'
import { fixtureJson } from '../test/helpers/fixtures.ts'
import { startTcpProxy } from '../test/helpers/tcp-proxy.ts'

const seconds = Number(process.argv[2] ?? 60)
const env0 = process.env
const range = (text: string | undefined, fallback: [number, number]): [number, number] => {
  if (!text) return fallback
  const [lo, hi] = text.split('-').map(Number)
  return [lo as number, hi ?? (lo as number)]
}
const seed = Number(env0.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** mulberry32: the fault schedule and the webhook mix repeat for a seed (timing does not). */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(seed)
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
const settings = {
  seed,
  clients: Number(env0.CHAOS_CLIENTS ?? 4),
  messages: range(env0.CHAOS_MESSAGES, [1, 1]),
  mix: (env0.CHAOS_MIX ?? 'v1').split(','),
  signal: env0.CHAOS_SIGNAL ?? 'SIGKILL',
  proxy: env0.CHAOS_PROXY === '1',
  outageMs: range(env0.CHAOS_OUTAGE_MS, [1000, 4000]),
  pauseMs: range(env0.CHAOS_FAULT_EVERY_MS, [500, 3000]),
  killShare: Number(env0.CHAOS_KILL_SHARE ?? 0.6),
}
const say = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)

const V1 = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
const V2 = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
const V3 = fixtureJson('v3', 'incident.triggered__zulip-fixture-2021.json') as { event: Record<string, unknown> }

/** What a 2xx promises: these event ids in atomic.events, these markers in atomic.bad_rows, once each. */
interface Webhook { body: string; events: string[]; bad: string[] }

function webhook(id: string): Webhook {
  const kind = settings.mix[Math.floor(random() * settings.mix.length)] as string
  const n = between(...settings.messages)
  const ids = Array.from({ length: n }, (_, i) => `${id}-${i}`)
  if (kind === 'junk') {
    // Not JSON: a 400, and its raw body in bad rows, durable before the answer as a 2xx's events.
    return { body: `{"id":"${id}-junk", "cut": `, events: [], bad: [`${id}-junk`] }
  }
  if (kind === 'v2') {
    const messages = ids.map((m) => ({ ...structuredClone(V2.messages[0]), id: m }))
    return { body: JSON.stringify({ messages }), events: ids.map((m) => pagerdutyEventId('v2', m, null)), bad: [] }
  }
  if (kind === 'v3' || (kind === 'bad' && random() < 0.3)) {
    const event: Record<string, unknown> = { ...structuredClone(V3.event), id }
    if (kind === 'bad') { event.event_type = 'incident.chaos_unknown'; return { body: JSON.stringify({ event }), events: [], bad: [id] } }
    return { body: JSON.stringify({ event }), events: [pagerdutyEventId('v3', id, null)], bad: [] }
  }
  const messages: Record<string, unknown>[] = ids.map((m) => ({ ...structuredClone(V1.messages[0]), id: m }))
  const bad: string[] = []
  if (kind === 'bad') {
    const b = `${id}-bad`
    messages.splice(Math.floor(random() * (messages.length + 1)), 0, { ...structuredClone(V1.messages[0]), id: b, type: 'incident.chaos_unknown' })
    bad.push(b)
  }
  return { body: JSON.stringify({ messages }), events: ids.map((m) => pagerdutyEventId('v1', m, null)), bad }
}

const cluster = createCluster('chaosmix')
const proxy = settings.proxy ? startTcpProxy({ hostname: '127.0.0.1', port: cluster.port }) : null
const dbUrl = proxy ? `postgres://postgres@127.0.0.1:${proxy.port}/postgres` : cluster.url
const dataDir = tempDir('chaosmix')
const env: Record<string, string> = { DATA_DIR: dataDir, DATABASE_URL: dbUrl, MAX_BODY_BYTES: env0.CHAOS_MAX_BODY_BYTES ?? '1MiB' }
for (const [from, to] of [['CHAOS_SEGMENT_BYTES', 'SPOOL_SEGMENT_BYTES'], ['CHAOS_BATCH_MAX_ROWS', 'BATCH_MAX_ROWS'], ['CHAOS_SPOOL_MAX_BYTES', 'SPOOL_MAX_BYTES'], ['CHAOS_WRITE_TIMEOUT_MS', 'DB_WRITE_TIMEOUT_MS'], ['CHAOS_SHUTDOWN_DRAIN_MS', 'SHUTDOWN_DRAIN_MS']] as const) {
  if (env0[from]) env[to] = env0[from] as string
}
say(`settings ${JSON.stringify({ ...settings, env: { ...env, DATA_DIR: undefined } })}`)
const sql = postgres(cluster.url, { max: 1, onnotice: () => {} })

let collector: Spawned = await spawnCollector(env)
let url = collector.url
const acked: Webhook[] = []
const statuses = new Map<number, number>()
let running = true
async function client(c: number) {
  for (let n = 0; running; n++) {
    const w = webhook(`mix-${c}-${n}`)
    try {
      const res = await fetch(`${url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: w.body })
      await res.arrayBuffer()
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if ((res.status >= 200 && res.status < 300) || (res.status === 400 && w.events.length === 0)) acked.push(w)
      else if (res.status === 503) await Bun.sleep(50)
    } catch {
      statuses.set(0, (statuses.get(0) ?? 0) + 1)
      await Bun.sleep(20)
    }
    await Bun.sleep(2)
  }
}
const loops = Array.from({ length: settings.clients }, (_, c) => client(c))

/** Writer counts of the processes that stopped gracefully (their "collector stopped" line). */
const counted = { loaded: 0, graceful: 0, killed: 0, exits: new Map<string, number>() }
let logs = ''
function retire(c: Spawned, code: number) {
  const out = c.output()
  logs += out
  counted.exits.set(String(code), (counted.exits.get(String(code)) ?? 0) + 1)
  const m = /"msg":"collector stopped".*?"loaded_events":(\d+)/.exec(out)
  if (m) { counted.loaded += Number(m[1]); counted.graceful++ } else counted.killed++
  if (code !== 0 && code !== 137) say(`collector exited ${code}:\n${out.slice(-3000)}`)
}

const counts = { kills: 0, terms: 0, outages: 0, freezes: 0 }
let exitCode = 1
try {
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    await Bun.sleep(between(...settings.pauseMs))
    const r = random()
    if (r < settings.killShare) {
      const signal = settings.signal === 'mix' ? (random() < 0.5 ? 'SIGKILL' : 'SIGTERM') : settings.signal
      if (signal === 'term-kill') {
        // A SIGKILL in the middle of the graceful stop (a supervisor's stop timeout).
        collector.proc.kill('SIGTERM')
        const grace = between(0, 1500)
        await Promise.race([collector.proc.exited, Bun.sleep(grace)])
      }
      collector.proc.kill(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL')
      const code = await collector.proc.exited
      retire(collector, code)
      if (signal !== 'SIGTERM') counts.kills++
      else counts.terms++
      collector = await spawnCollector(env)
      url = collector.url
    } else if (proxy && random() < 0.5) {
      proxy.freeze()
      counts.freezes++
    } else {
      cluster.stop('immediate')
      counts.outages++
      await Bun.sleep(between(...settings.outageMs))
      cluster.start()
    }
    say(`${counts.kills} kills, ${counts.terms} terms, ${counts.outages} outages, ${counts.freezes} freezes, ${acked.length} webhooks acked`)
  }
  running = false
  await Promise.all(loops)
  const wantEvents = new Set(acked.flatMap((w) => w.events))
  const wantBad = new Set(acked.flatMap((w) => w.bad))
  const started = performance.now()
  const drainUntil = Date.now() + Number(env0.CHAOS_DRAIN_MS ?? 120_000)
  let tally = { events: new Map<string, number>(), bad: new Map<string, number>() }
  const read = async () => {
    const events = new Map<string, number>()
    for (const r of await sql`select event_id, count(*)::int as n from atomic.events group by event_id`) events.set(String(r.event_id), Number(r.n))
    const bad = new Map<string, number>()
    for (const r of await sql`select coalesce(substring(payload from '"id":"(mix-[0-9]+-[0-9]+(?:-bad|-junk)?)"'), bad_row_id) as k, count(*)::int as n from atomic.bad_rows group by 1`) bad.set(String(r.k), Number(r.n))
    return { events, bad }
  }
  for (;;) {
    try { tally = await read() } catch { /* tables not there yet */ }
    const done = [...wantEvents].every((e) => tally.events.has(e)) && [...wantBad].every((b) => tally.bad.has(b))
    if (done || Date.now() > drainUntil) break
    await Bun.sleep(200)
  }
  const drainMs = Math.round(performance.now() - started)
  // Let the last writer settle its counts, then ask it.
  await Bun.sleep(500)
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const metric = (name: string) => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0)
  const ready = await (await fetch(`${url}/ready`)).json() as { spool?: { backlog_events?: number } }
  const lost = [...wantEvents].filter((e) => !tally.events.has(e)).length
  const duplicated = [...tally.events.values()].filter((n) => n > 1).length
  const badLost = [...wantBad].filter((b) => !tally.bad.has(b)).length
  const badDuplicated = [...tally.bad.values()].filter((n) => n > 1).length
  const rows = [...tally.events.values()].reduce((a, b) => a + b, 0)
  const lastLoaded = metric('collector_events_loaded_total')
  const lastBad = metric('collector_bad_rows_loaded_total')
  const badRowsInTable = [...tally.bad.values()].reduce((a, b) => a + b, 0)
  const writerSum = counted.loaded + lastLoaded
  // Killed processes take their counts with them, and a commit whose answer a database crash
  // or a frozen connection cut off is retried and counted as a duplicate: the sum may fall
  // short of the rows, never exceed them. With graceful stops only, and no database fault,
  // it must match.
  const countsOk = writerSum <= rows && (counted.killed > 0 || counts.outages + counts.freezes > 0 || writerSum === rows) && lastBad <= badRowsInTable
  process.stdout.write(`chaos-mix ${seconds} s, seed ${seed}: ${counts.kills} SIGKILLs, ${counts.terms} SIGTERMs (exit codes ${JSON.stringify(Object.fromEntries(counted.exits))}), ${counts.outages} database crashes, ${counts.freezes} frozen connections; ${acked.length} webhooks acked; responses by status ${JSON.stringify(Object.fromEntries(statuses))}; backlog loaded ${drainMs} ms after the load stopped; spool backlog now ${ready.spool?.backlog_events}\n`)
  // Not loaded while events still wait in the spool: a writer too slow for CHAOS_DRAIN_MS, or
  // stuck; either way the run fails, but the spool still holds them.
  if ((ready.spool?.backlog_events ?? 0) > 0) process.stdout.write(`NOT DRAINED: ${ready.spool?.backlog_events} events still in the spool after CHAOS_DRAIN_MS; "lost" below counts them\n`)
  process.stdout.write(`events: acked ${wantEvents.size}, loaded ${wantEvents.size - lost}, lost ${lost}, duplicated ${duplicated}\n`)
  process.stdout.write(`bad rows: acked ${wantBad.size}, loaded ${wantBad.size - badLost}, lost ${badLost}, duplicated ${badDuplicated}\n`)
  process.stdout.write(`counts: rows in atomic.events ${rows}; writers said ${writerSum} (${counted.graceful} graceful stops ${counted.loaded}, last /metrics ${lastLoaded}, ${counted.killed} killed uncounted); rows in atomic.bad_rows ${badRowsInTable}, the last writer inserted ${lastBad}: ${countsOk ? 'consistent' : 'WRONG'}\n`)
  const errors = new Map<string, number>()
  for (const m of (logs + collector.output()).matchAll(/"level":"error","msg":"([^"]*)"/g)) errors.set(m[1] as string, (errors.get(m[1] as string) ?? 0) + 1)
  process.stdout.write(`error log lines: ${JSON.stringify(Object.fromEntries(errors))}\n`)
  exitCode = lost === 0 && duplicated === 0 && badLost === 0 && badDuplicated === 0 && countsOk ? 0 : 1
} finally {
  running = false
  await Promise.all(loops)
  collector.proc.kill('SIGTERM')
  await collector.proc.exited
  await sql.end({ timeout: 1 })
  proxy?.stop()
  cluster.destroy()
  if (exitCode === 0) fs.rmSync(dataDir, { recursive: true, force: true })
  else {
    fs.writeFileSync(`${dataDir}/collector.log`, logs + collector.output())
    say(`kept ${dataDir} (spool and the collectors' logs) for a post-mortem`)
  }
}
process.exit(exitCode)
