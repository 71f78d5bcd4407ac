/**
 * `npm run bench`: the figures the README quotes, from one run on this machine, as ratios
 * where a ratio is meaningful (the machine is shared, absolute numbers drift).
 * Needs PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; a
 * scratch database is created and dropped), wrk, psql, and dist/collector (built if missing).
 * `--quick`: shorter phases (about 3 minutes instead of about 8).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startTcpProxy } from '../test/helpers/tcp-proxy.ts'
import { cpuSecondsOf, cpuSecondsOfPid, describeMachine, peakRss } from './lib/machine.ts'
import { scrape, slowAnswers, waitDrained } from './lib/metrics.ts'
import { BINARY, ROOT, UNIT_ENV, UNREACHABLE_DATABASE, runPaced, startAckAfterCommit, startBare, startCollector, waitDatabaseUp, type Running } from './lib/processes.ts'
import { writeTemplate } from './lib/template.ts'
import { ensureWrk, runWrk } from './lib/wrk.ts'

const quick = process.argv.includes('--quick')
const T = quick ? { load: 5, step: 5, latency: 5, outage: 15 } : { load: 10, step: 10, latency: 15, outage: 60 }
const LATENCY_RATE = 2000
const OUTAGE_RATE = 2000
const CONNECTIONS = 64

const runId = `b${Date.now().toString(36)}`
const rows: [string, string, string][] = []
/** Every step of the sustained search, for RESULTS.md (the headline can be checked against them). */
const steps_: string[] = []
const record = (measure: string, value: string, note = '') => {
  rows.push([measure, value, note])
  process.stderr.write(`bench: ${measure}: ${value}${note ? ` (${note})` : ''}\n`)
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const mib = (bytes: number) => `${fmt(bytes / 1024 ** 2, 1)} MiB`
/** Memory as the issue states its target (MB, 10^6 bytes), with MiB beside it. */
const mb = (bytes: number) => `${fmt(bytes / 1e6, 1)} MB (${mib(bytes)})`
const RSS_TARGET_BYTES = 150e6
const rssVerdict = (bytes: number) => `target < 150 MB: ${bytes < RSS_TARGET_BYTES ? 'met' : 'MISSED'}`

/** Always builds: a dist/collector left from an older checkout would measure old code. */
function ensureBinary(): void {
  process.stderr.write('bench: building dist/collector\n')
  const run = Bun.spawnSync(['npm', 'run', 'build'], { cwd: ROOT, stdout: 'ignore', stderr: 'inherit' })
  if (run.exitCode !== 0) throw new Error('npm run build failed')
}

async function scratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const name = `pdc_bench_${process.pid}_${Date.now() % 1e6}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.href,
    async drop() {
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} })
      await a.unsafe(`drop database if exists ${name} with (force)`)
      await a.end()
    },
  }
}

async function main(): Promise<void> {
  ensureWrk()
  if (!Bun.which('psql')) throw new Error('psql is not installed (apt-get install -y postgresql-client)')
  ensureBinary()
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-bench-'))
  const db = await scratchDatabase()
  const one = writeTemplate(work, 1)
  const ten = writeTemplate(work, 10)
  const dataDir = (label: string) => fs.mkdtempSync(path.join(work, `${label}-`))
  const started = new Date()
  let rssOutageFull = NaN
  try {
    record('binary size (dist/collector)', mib(fs.statSync(BINARY).size))

    // ---- cold start to /ready ------------------------------------------------------
    {
      // /ready answers 200 once webhooks are taken (the spool is writable); the database may
      // still be connecting. The second figure is until it is up: connected, tables created
      // (a fresh database here) and read, ready to load.
      const coldDb = await scratchDatabase()
      const ext = await startCollector({ DATABASE_URL: coldDb.url, DATA_DIR: dataDir('cold-ext') })
      const extUp = await waitDatabaseUp(ext)
      await ext.stop()
      await coldDb.drop()
      record('cold start to /ready, external PostgreSQL', `${fmt(ext.readyMs)} ms`, `fresh DATA_DIR; accepting webhooks; database up (tables created in an empty database) at ${fmt(extUp)} ms`)
      const emb = await startCollector({ DATA_DIR: dataDir('cold-emb') })
      const embUp = await waitDatabaseUp(emb)
      await emb.stop()
      record('cold start to /ready, embedded database', `${fmt(emb.readyMs)} ms`, `fresh DATA_DIR: includes creating the PGlite cluster; tables created and database up at ${fmt(embUp)} ms`)
    }

    // ---- accept rate: collector vs bare Bun.serve, same wrk load -------------------
    const bare = await startBare()
    const bareRun = await runWrk({ url: `${bare.base}/com.pagerduty/v1`, connections: CONNECTIONS, threads: 2, seconds: T.load, template: one, prefix: `${runId}-bare` })
    await bare.stop()
    const collector = await startCollector({ DATABASE_URL: db.url, DATA_DIR: dataDir('load') })
    await runPaced(`${collector.base}/com.pagerduty/v1`, 50, 1, one, `${runId}-warm`) // migrations, prepared statements
    await waitDrained(collector, 30_000)
    const before = await scrape(collector.base)
    const loadRun = await runWrk({ url: `${collector.base}/com.pagerduty/v1`, connections: CONNECTIONS, threads: 2, seconds: T.load, template: one, prefix: `${runId}-load` })
    const after = await scrape(collector.base)
    const rssFull = peakRss(collector.pid)
    record('bare Bun.serve (parse JSON only), req/s', fmt(bareRun.okRps), `wrk -t2 -c${CONNECTIONS}, ${T.load} s`)
    record('collector durable 2xx, req/s', fmt(loadRun.okRps), `${fmt(loadRun.non2xx)} non-2xx, ${loadRun.errors} socket errors`)
    record('accept rate (collector / bare)', fmt(loadRun.okRps / bareRun.okRps, 2), 'target >= 0.5')
    const committedDuringLoad = (after.loaded - before.loaded) / loadRun.seconds
    record('committed during that load, events/s', fmt(committedDuringLoad), `backlog ${fmt(before.backlog)} -> ${fmt(after.backlog)} events`)
    // The design the spool replaced: the same handler, a 202 only after the batch commits
    // (bench/ack-after-commit-server.ts), same wrk load, its own scratch database.
    {
      const ackDb = await scratchDatabase()
      const ack = await startAckAfterCommit(ackDb.url)
      const ackRun = await runWrk({ url: `${ack.base}/com.pagerduty/v1`, connections: CONNECTIONS, threads: 2, seconds: T.load, template: one, prefix: `${runId}-ack` })
      await ack.stop()
      await ackDb.drop()
      record('ack-after-commit (same handler), req/s', fmt(ackRun.okRps), `p50 / p99 ${fmt(ackRun.p50Ms, 1)} / ${fmt(ackRun.p99Ms, 1)} ms, ${fmt(ackRun.non2xx)} non-2xx`)
      record('accept with spool vs ack-after-commit', fmt(loadRun.okRps / Math.max(1, ackRun.okRps), 2), 'collector durable 2xx req/s over ack-after-commit req/s, same load')
    }
    record('wrk latency at saturation p50 / p99', `${fmt(loadRun.p50Ms, 1)} / ${fmt(loadRun.p99Ms, 1)} ms`, `closed loop, ${CONNECTIONS} connections`)
    const drainStart = performance.now()
    const backlogAfterLoad = after.backlog
    await waitDrained(collector, 300_000)
    // A few hundred events drain in a millisecond or two: no rate worth printing.
    if (backlogAfterLoad >= 5_000) record('drain after the saturating load, events/s', fmt(backlogAfterLoad / ((performance.now() - drainStart) / 1000)))
    else record('drain after the saturating load', `backlog of ${fmt(backlogAfterLoad)} events`, 'the writer kept up with the saturating load; the drain rate after an outage is below')

    // The accept path on its own: the same load with the database unreachable (a closed
    // port), so the writer only waits to retry and every request is answered from the spool.
    {
      const alone = await startCollector({ DATABASE_URL: UNREACHABLE_DATABASE, DATA_DIR: dataDir('alone') })
      const aloneRun = await runWrk({ url: `${alone.base}/com.pagerduty/v1`, connections: CONNECTIONS, threads: 2, seconds: T.load, template: one, prefix: `${runId}-alone` })
      rssOutageFull = peakRss(alone.pid)
      await alone.stop()
      record('accept rate with the database down (writer idle)', `${fmt(aloneRun.okRps / bareRun.okRps, 2)} (${fmt(aloneRun.okRps)} req/s)`,
        `same wrk load; p99 ${fmt(aloneRun.p99Ms, 1)} ms, ${fmt(aloneRun.non2xx)} non-2xx: what a burst or an outage is absorbed at; not the issue's accept rate (that is the row above, with PostgreSQL loading)`)
    }

    // ---- sustained end-to-end: step the offered rate -------------------------------
    // The headline is 1 event per request (PagerDuty v3 sends one event per delivery, and
    // v1/v2 mostly one message). v1/v2 may batch messages in one delivery: 10 per request
    // measures the same pipeline with a tenth of the HTTP and fsync work per event.
    const stepped1 = await sustainedEndToEnd(collector, one, 1, quick ? [40, 80, 120, 160, 200, 280] : [40, 60, 80, 100, 120, 140, 160, 200, 240, 320, 400])
    // The unpaced saturating load above is the top step: it counts when its backlog, too,
    // grew by less than half a second of its traffic.
    const saturationSteady = after.backlog - before.backlog <= 0.5 * loadRun.okRps && loadRun.non2xx === 0
    const sustained1 = saturationSteady && committedDuringLoad > stepped1.rate ? { rate: committedDuringLoad, offered: loadRun.okRps, how: `the saturating load (wrk -c${CONNECTIONS}, unpaced)` } : { ...stepped1, how: 'a paced step' }
    record('sustained end-to-end, events/s committed', fmt(sustained1.rate), `backlog not growing at ${fmt(sustained1.offered)} req/s, in ${sustained1.how}; 1 event/request (the headline); target >= 17,000`)
    const sustained10 = await sustainedEndToEnd(collector, ten, 10, quick ? [8, 16, 24, 32, 48] : [4, 8, 12, 16, 20, 24, 32, 40, 48])
    record('sustained end-to-end, 10 events/request, events/s committed', fmt(sustained10.rate),
      `backlog not growing at ${fmt(sustained10.offered)} req/s, v1 webhooks of 10 messages each (PagerDuty v1/v2 may batch); not comparable to the 1-event figure: a tenth of the requests and fsync groups per event`)
    const sustained = sustained1

    // ---- latency at a fixed offered rate -------------------------------------------
    // Measured before the \copy baseline and after a CHECKPOINT with the backlog loaded, so
    // the database is not still writing out an earlier phase while latency is measured.
    await waitDrained(collector, 120_000)
    {
      const admin = postgres(db.url, { max: 1, onnotice: () => {} })
      await admin.unsafe('checkpoint')
      await admin.end()
    }
    const metricsBefore = await (await fetch(`${collector.base}/metrics`)).text()
    const cpuBefore = { collector: cpuSecondsOfPid(collector.pid), postgres: cpuSecondsOf('postgres') }
    const paced = await runPaced(`${collector.base}/com.pagerduty/v1`, LATENCY_RATE, T.latency, one, `${runId}-lat`)
    await waitDrained(collector, 60_000) // the loading of these requests is part of their cost
    const cpuAfter = { collector: cpuSecondsOfPid(collector.pid), postgres: cpuSecondsOf('postgres') }
    const metricsAfter = await (await fetch(`${collector.base}/metrics`)).text()
    record(`latency at ${fmt(LATENCY_RATE)} req/s p50 / p99`, `${fmt(paced.p50_ms, 1)} / ${fmt(paced.p99_ms, 1)} ms`,
      `open loop (from the scheduled send time), ${T.latency} s, ${fmt(paced.achieved_rps)} req/s achieved, ${paced.non2xx + paced.errors} failures; target p99 < 20 ms`)
    {
      // Where the tail comes from: the collector's own answer times (its histogram, which
      // includes the spool fsync), the load generator's lateness in sending, and how busy the
      // two cores were.
      const before = slowAnswers(metricsBefore, '0.025')
      const after = slowAnswers(metricsAfter, '0.025')
      const requests = after.total - before.total
      const perRequest = (seconds: number) => (seconds * 1e6) / Math.max(1, requests)
      const collectorUs = perRequest(cpuAfter.collector - cpuBefore.collector)
      const postgresUs = perRequest(cpuAfter.postgres - cpuBefore.postgres)
      record(`the same ${fmt(LATENCY_RATE)} req/s: where the time goes`,
        `${fmt(after.over - before.over)} of ${fmt(requests)} answered in > 25 ms by the collector itself; generator send lag p99 ${fmt(paced.send_lag_p99_ms, 1)} ms`,
        `CPU per request: collector ${fmt(collectorUs)} us, PostgreSQL ${fmt(postgresUs)} us = ${fmt(((collectorUs + postgresUs) * LATENCY_RATE) / 1e6, 2)} of the ${os.cpus().length} cores busy, the load generator's share not counted`)
    }

    // ---- the same rows with psql \copy into the same tables ------------------------
    const copySeconds = await copyBaseline(db.url, work)
    const sql = postgres(db.url, { max: 1, onnotice: () => {} })
    const n = Number((await sql`select count(*)::int as n from atomic.events`)[0]?.n)
    await sql.end()
    const copyRate = n / copySeconds
    record('psql \\copy of the same rows, events/s', fmt(copyRate), `${fmt(n)} events + their incident rows into copies of the same tables (LIKE ... INCLUDING ALL)`)
    record('sustained (1 event/request) / \\copy', fmt(sustained.rate / copyRate, 2))

    record('peak RSS at full load (VmHWM)', mb(rssFull), `after the saturating load (wrk -c${CONNECTIONS}, 1 event/request); ${rssVerdict(rssFull)}`)
    const rssAll = peakRss(collector.pid)
    record('peak RSS over all the phases above (VmHWM)', mb(rssAll), `includes the 10-events/request steps (bodies and spool records 10x larger); ${rssVerdict(rssAll)}`)
    record('peak RSS, database down under the saturating load (VmHWM)', mb(rssOutageFull), `the outage at full load: every request answered from the spool, wrk -c${CONNECTIONS}; ${rssVerdict(rssOutageFull)}`)
    await collector.stop()
    {
      // The outage phase measures the collector, not PostgreSQL writing out the \copy
      // baseline meanwhile (that checkpoint stalled the spool's fsyncs: p99 1.1 s in one run).
      const admin = postgres(db.url, { max: 1, onnotice: () => {} })
      await admin.unsafe('checkpoint')
      await admin.end()
    }

    // ---- a database outage under load ----------------------------------------------
    const target = new URL(db.url)
    const proxy = startTcpProxy({ hostname: target.hostname === 'localhost' ? '127.0.0.1' : target.hostname, port: Number(target.port || 5432) })
    const viaProxy = new URL(db.url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const outageCollector = await startCollector({ DATABASE_URL: viaProxy.href, DATA_DIR: dataDir('outage') })
    try {
      await runPaced(`${outageCollector.base}/com.pagerduty/v1`, 50, 1, one, `${runId}-owarm`)
      await waitDrained(outageCollector, 30_000)
      proxy.close()
      const outage = await runPaced(`${outageCollector.base}/com.pagerduty/v1`, OUTAGE_RATE, T.outage, one, `${runId}-outage`)
      const during = await scrape(outageCollector.base)
      record(`outage of ${T.outage} s under ${fmt(OUTAGE_RATE)} req/s`, `${fmt(outage.ok)} acknowledged, ${outage.non2xx + outage.errors} refused`,
        `p99 ${fmt(outage.p99_ms, 1)} ms; backlog ${fmt(during.backlog)} events, database_up=${during.up}`)
      const rssOutage = peakRss(outageCollector.pid)
      record(`peak RSS during the outage at ${fmt(OUTAGE_RATE)} req/s (VmHWM)`, mb(rssOutage), rssVerdict(rssOutage))
      // The database returns while PagerDuty keeps sending: the same 2,000 req/s go on during
      // the drain. Drained = the backlog back under half a second of that traffic.
      proxy.open()
      const reopened = performance.now()
      const keepSending = runPaced(`${outageCollector.base}/com.pagerduty/v1`, OUTAGE_RATE, T.outage, one, `${runId}-after`)
      let firstCommit = 0
      let firstCommitLoaded = during.loaded
      let firstCommitBacklog = during.backlog
      let last = during
      for (;;) {
        const s = await scrape(outageCollector.base)
        if (!firstCommit && s.loaded > during.loaded) [firstCommit, firstCommitLoaded, firstCommitBacklog] = [performance.now(), s.loaded, s.backlog]
        last = s
        if (firstCommit && s.backlog < OUTAGE_RATE / 2) break
        if (performance.now() - reopened > 300_000) throw new Error('outage backlog did not drain')
        await Bun.sleep(20)
      }
      const drainSeconds = (performance.now() - firstCommit) / 1000
      const afterOutage = await keepSending
      record('drain after the outage, events/s', fmt((firstCommitBacklog - last.backlog) / drainSeconds),
        `net (the backlog's fall, ${fmt(firstCommitBacklog)} -> ${fmt(last.backlog)} events in ${fmt(drainSeconds, 1)} s) while ${fmt(OUTAGE_RATE)} req/s keep arriving (p99 ${fmt(afterOutage.p99_ms, 1)} ms, ${afterOutage.non2xx + afterOutage.errors} refused); committed ${fmt((last.loaded - firstCommitLoaded) / drainSeconds)} events/s; the writer's backoff took ${fmt((firstCommit - reopened) / 1000, 1)} s to retry after the database returned`)
    } finally {
      await outageCollector.stop()
      proxy.stop()
    }
  } finally {
    await db.drop().catch(() => {})
    fs.rmSync(work, { recursive: true, force: true })
  }
  writeResults(started)
}

/**
 * Steps the offered rate with paced wrk connections (each sends its next request 10 ms after
 * a response, so connections x 100 req/s is the ceiling; the collector's answers set the
 * actual rate). Sustained = the highest committed events/s at which the backlog grew by less
 * than half a second of the offered events over the step.
 */
async function sustainedEndToEnd(collector: Running, template: string, eventsPerRequest: number, steps: number[]): Promise<{ rate: number; offered: number }> {
  let best = { rate: 0, offered: 0 }
  let retried = false
  for (let i = 0; i < steps.length; i++) {
    const connections = steps[i] as number
    const s0 = await scrape(collector.base)
    const t0 = performance.now()
    const run = await runWrk({ url: `${collector.base}/com.pagerduty/v1`, connections, threads: 2, seconds: T.step, template, prefix: `${runId}-s${eventsPerRequest}x${connections}${retried ? 'r' : ''}`, delayMs: 10 })
    const s1 = await scrape(collector.base)
    const seconds = (performance.now() - t0) / 1000
    const committed = (s1.loaded - s0.loaded) / seconds
    const growth = s1.backlog - s0.backlog
    const steady = growth <= 0.5 * run.okRps * eventsPerRequest && run.non2xx === 0
    const line = `${eventsPerRequest} event(s)/request, ${connections} paced connections: ${fmt(run.okRps)} req/s accepted, ${fmt(committed)} events/s committed, backlog +${fmt(growth)}${steady ? '' : ' (growing)'}`
    steps_.push(line)
    process.stderr.write(`bench:   ${line}\n`)
    if (steady && committed > best.rate) best = { rate: committed, offered: run.okRps }
    await waitDrained(collector, 120_000)
    if (!steady) {
      // One noisy step (a checkpoint, a neighbour on the host) must not end the search:
      // the same step once more; two in a row end it.
      if (retried) break
      retried = true
      i--
    } else retried = false
  }
  await waitDrained(collector, 300_000)
  return best
}

/** Times `psql \copy` of the rows the collector loaded into same-shaped tables. */
async function copyBaseline(url: string, work: string): Promise<number> {
  const psql = (args: string[]) => {
    const run = Bun.spawnSync(['psql', url, '-v', 'ON_ERROR_STOP=1', '-qX', ...args], { stdout: 'pipe', stderr: 'pipe' })
    if (run.exitCode !== 0) throw new Error(`psql failed: ${run.stderr.toString()}`)
  }
  const events = path.join(work, 'events.copy')
  const incidents = path.join(work, 'incidents.copy')
  psql(['-c', `\\copy atomic.events to '${events}'`, '-c', `\\copy atomic.com_pagerduty_incident_1 to '${incidents}'`])
  psql(['-c', 'create schema copy_target',
    '-c', 'create table copy_target.events (like atomic.events including all)',
    '-c', 'create table copy_target.com_pagerduty_incident_1 (like atomic.com_pagerduty_incident_1 including all)'])
  const t0 = performance.now()
  psql(['-c', 'begin', '-c', `\\copy copy_target.events from '${events}'`, '-c', `\\copy copy_target.com_pagerduty_incident_1 from '${incidents}'`, '-c', 'commit'])
  return (performance.now() - t0) / 1000
}

/** The file system the spools live on: on tmpfs an fsync flushes nothing, and every figure would flatter. */
function spoolFileSystem(): string {
  const names: Record<number, string> = { 0xef53: 'ext2/3/4', 0x01021994: 'tmpfs (fsync flushes nothing: the figures are not durable ones)', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x2fc12fc1: 'zfs', 0x6969: 'nfs' }
  try {
    const type = fs.statfsSync(os.tmpdir()).type
    return names[type] ?? `file system type 0x${type.toString(16)}`
  } catch {
    return 'an unknown file system'
  }
}

function writeResults(started: Date): void {
  const table = ['| measure | value | note |', '| --- | --- | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
  const text = [
    '# Benchmark results',
    '',
    `Run: ${started.toISOString()}${quick ? ' (--quick)' : ''}, \`npm run bench\``,
    `Machine: ${describeMachine()}`,
    `Database: PostgreSQL ${process.env.DATABASE_URL ? 'from DATABASE_URL' : 'on 127.0.0.1:5432'}, same machine. Load generators (wrk, bench/paced.ts) share the machine's cores with the collector and the database.`,
    `Collector: dist/collector with the environment deploy/collector.service sets (${Object.entries(UNIT_ENV).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}).`,
    `Spool: DATA_DIR under ${os.tmpdir()}, on ${spoolFileSystem()}.`,
    '',
    table,
    '',
    'Steps of the sustained search (paced wrk connections, each waiting 10 ms after a response; a step that grows the backlog is run once more before the search ends):',
    '',
    ...steps_.map((l) => `- ${l}`),
    '',
  ].join('\n')
  process.stdout.write(`\n${table}\n`)
  fs.writeFileSync(path.join(import.meta.dir, 'RESULTS.md'), text)
  process.stderr.write('bench: wrote bench/RESULTS.md\n')
}

await main()
