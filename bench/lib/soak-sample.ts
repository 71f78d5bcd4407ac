/**
 * One sample of a running collector for the soak (bench/soak.ts): the process from /proc,
 * its spool on disk, its PostgreSQL backends (pg_stat_activity, and their private memory
 * from /proc when the server runs on this machine), and its /metrics counters.
 */
import fs from 'node:fs'
import path from 'node:path'
import type postgres from 'postgres'
import { metricValue } from './metrics.ts'

export interface Sample {
  t: number
  rssKiB: number
  hwmKiB: number
  threads: number
  fds: number
  spoolBytes: number
  spoolSegments: number
  backlog: number
  backends: number
  /** Sum of the backends' RssAnon (KiB): their private memory, where prepared statements live. */
  backendAnonKiB: number
  /** Distinct statement texts the backends were seen running so far (prepared once each per connection). */
  statements: number
  accepted: number
  loaded: number
  bad: number
  up: number
  /** Connections the collector answers (sockets in /proc/PID/fd), not a metric of its own. */
  sockets: number
}

const status = (pid: number): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line)
    if (m) out[m[1] as string] = Number(m[2])
  }
  return out
}

function fdsOf(pid: number): { fds: number; sockets: number } {
  let sockets = 0
  const names = fs.readdirSync(`/proc/${pid}/fd`)
  for (const n of names) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${n}`).startsWith('socket:')) sockets++ } catch { /* closed meanwhile */ }
  }
  return { fds: names.length, sockets }
}

function spoolOf(dataDir: string): { bytes: number; segments: number } {
  const dir = path.join(dataDir, 'spool')
  let bytes = 0
  let segments = 0
  for (const name of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, name), { throwIfNoEntry: false })
    if (!st?.isFile()) continue
    bytes += st.size
    if (/^\d{20}\.seg$/.test(name)) segments++
  }
  return { bytes, segments }
}

const sum = (text: string, name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+(?:\\.\\d+)?)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0)

export function sampler(pid: number, dataDir: string, base: string, sql: postgres.Sql, database: string, started: number) {
  const statements = new Set<string>()
  const take = async (): Promise<Sample> => {
    const st = status(pid)
    const { fds, sockets } = fdsOf(pid)
    const spool = spoolOf(dataDir)
    const metrics = await (await fetch(`${base}/metrics`)).text()
    const rows = await sql<{ pid: number; query: string }[]>`
      select pid, query from pg_stat_activity where datname = ${database} and application_name = 'pagerduty-collector'`
    let backendAnonKiB = 0
    for (const r of rows) {
      if (r.query) statements.add(r.query)
      try { backendAnonKiB += status(r.pid).RssAnon ?? 0 } catch { /* another machine, or gone */ }
    }
    return {
      t: (performance.now() - started) / 1000,
      rssKiB: st.VmRSS ?? 0,
      hwmKiB: st.VmHWM ?? 0,
      threads: st.Threads ?? 0,
      fds,
      sockets,
      spoolBytes: spool.bytes,
      spoolSegments: spool.segments,
      backlog: metricValue(metrics, 'collector_spool_backlog_events'),
      backends: rows.length,
      backendAnonKiB,
      statements: statements.size,
      accepted: sum(metrics, 'collector_events_accepted_total'),
      loaded: sum(metrics, 'collector_events_loaded_total'),
      bad: sum(metrics, 'collector_bad_rows_loaded_total'),
      up: metricValue(metrics, 'collector_database_up'),
    }
  }
  return Object.assign(take, { statements: (): string[] => [...statements] })
}

/** Median, min and max of one field over the samples in [from, to) seconds. */
export function window(samples: Sample[], key: keyof Sample, from: number, to: number): { median: number; min: number; max: number; n: number } {
  const v = samples.filter((s) => s.t >= from && s.t < to).map((s) => s[key]).sort((a, b) => a - b)
  return { median: v[Math.floor(v.length / 2)] ?? NaN, min: v[0] ?? NaN, max: v.at(-1) ?? NaN, n: v.length }
}

/** One row per `every` seconds of load: the medians of the fields the soak watches, and the largest backlog. */
export function periodTable(samples: Sample[], every: number, until: number): string[] {
  const mib = (kib: number) => (kib / 1024).toFixed(1)
  const rows = ['| from s | samples | VmRSS MiB | VmHWM MiB | fds (sockets) | threads | backends (their RssAnon MiB) | spool segments (MiB) | backlog max |', '|---|---|---|---|---|---|---|---|---|']
  for (let from = 0; from < until; from += every) {
    const to = Math.min(until, from + every)
    const m = (k: keyof Sample) => window(samples, k, from, to)
    if (m('rssKiB').n === 0) continue
    rows.push(`| ${from} | ${m('rssKiB').n} | ${mib(m('rssKiB').median)} | ${mib(m('hwmKiB').max)} | ${m('fds').median} (${m('sockets').median}) | ${m('threads').median} | ${m('backends').median} (${mib(m('backendAnonKiB').median)}) | ${m('spoolSegments').median} (${(m('spoolBytes').median / 2 ** 20).toFixed(0)}) | ${m('backlog').max} |`)
  }
  return rows
}
