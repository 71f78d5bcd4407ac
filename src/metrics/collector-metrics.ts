/**
 * The collector's series, as GET /metrics shows them. Request-path counters are bumped by
 * the HTTP edge (HttpMetrics) and the writer (onCommit); spool and database state is read
 * at scrape time from `spool.stats()` and `writer.status()`, so it costs nothing per event.
 */
import { COMMIT } from '../version.ts'
import { DENIED_KINDS } from '../http/auth.ts'
import type { HttpMetrics } from '../http/server.ts'
import type { WriteResult } from '../sink/batch.ts'
import type { WriterStatus } from '../sink/writer.ts'
import type { SpoolStats } from '../spool/spool.ts'
import type { ProcessStats } from './process-stats.ts'
import { createRegistry, type Collect } from './registry.ts'

export interface CollectorMetricsDeps {
  version: string
  /** Every (route, status) the server can answer (`routeAnswers`, src/http/server.ts): their series start at 0. */
  requestSeries: readonly { route: string; status: number }[]
  /** The webhook versions (`v1`, ...): their series start at 0. */
  webhookVersions: readonly string[]
  spoolStats(): SpoolStats
  writerStatus(): WriterStatus
  /** Restarts of the embedded database that stopped answering (EMBEDDED_STALL_RESTART_MS). */
  embeddedRestarts(): number
  /** CPU, memory and file descriptors, read at each scrape (in production through the open-files watch, which checks them too). */
  processStats(): ProcessStats
}

export interface CommitObservation extends WriteResult { batchEvents: number; ms: number; delaySeconds?: number | null }

export interface CollectorMetrics {
  http: HttpMetrics
  onCommit(result: CommitObservation): void
  /** One group commit of the spool: the records one fsync made durable, and how long it took. */
  onSpoolSync(group: { records: number; seconds: number }): void
  text(): string
}

/** Seconds: a request answered from the spool takes about one fsync (0.1 to 10 ms on SSDs). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000]
/** Seconds: one write and fsync of the spool, 0.1 to 10 ms on SSDs; more is a slow or failing disk. */
const SYNC_BUCKETS = [0.0001, 0.00025, ...LATENCY_BUCKETS]
/** Seconds: a commit is milliseconds on PostgreSQL, seconds on Redshift, and retries (backoff up to 30 s) count in. */
const COMMIT_BUCKETS = [...LATENCY_BUCKETS, 10, 30, 60, 120, 300]
/** Seconds from receipt to commit: BATCH_MAX_WAIT_MS and a commit when all is well, the outage's length after one. */
const DELAY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400]

export function createCollectorMetrics(deps: CollectorMetricsDeps): CollectorMetrics {
  const r = createRegistry()
  r.gauge({ name: 'collector_build_info', help: 'Always 1; the version and the commit built from are labels.', labelNames: ['version', 'commit'], collect: () => [{ labels: { version: deps.version, commit: COMMIT }, value: 1 }] })
  const requests = r.counter({ name: 'collector_http_requests_total', help: 'HTTP requests by route and status code.', labelNames: ['route', 'status'] })
  const duration = r.histogram({ name: 'collector_http_request_duration_seconds', help: 'Time to answer an HTTP request, by route; webhooks include the spool fsync.', labelNames: ['route'], buckets: LATENCY_BUCKETS })
  const accepted = r.counter({ name: 'collector_events_accepted_total', help: 'Events made durable in the spool and acknowledged, by webhook version.', labelNames: ['version'] })
  const bad = r.counter({ name: 'collector_events_bad_total', help: 'Messages of accepted webhooks sent to bad rows, by webhook version.', labelNames: ['version'] })
  const pings = r.counter({ name: 'collector_pings_total', help: 'Health-check deliveries (v3 pagey.ping), by webhook version.', labelNames: ['version'] })
  const authFailures = r.counter({ name: 'collector_auth_failures_total', help: 'Requests refused with 401: basic_auth, signature_missing or signature_mismatch.', labelNames: ['kind'] })
  const loaded = r.counter({ name: 'collector_events_loaded_total', help: 'Events inserted into the database, by webhook version.', labelNames: ['version'] })
  // Every known label set from 0: a series born at its first increment shows it to no
  // `rate()` or `increase()` (they need two samples), so the first 503s, 401s or bad events
  // went unseen by the alerts, and a dashboard had no line for a version until it had traffic.
  // Bounded: 3 kinds, 3 versions, and the statuses each route can answer (34 series with the
  // three webhook routes).
  for (const kind of DENIED_KINDS) authFailures.inc({ kind }, 0)
  for (const version of deps.webhookVersions) for (const counter of [accepted, bad, pings, loaded]) counter.inc({ version }, 0)
  for (const { route, status } of deps.requestSeries) requests.inc({ route, status: String(status) }, 0)
  const duplicates = r.counter({ name: 'collector_events_duplicate_total', help: 'Events already in the database when their batch committed (a retry or a replay).' })
  const badRowsLoaded = r.counter({ name: 'collector_bad_rows_loaded_total', help: 'Rows inserted into the bad rows table.' })
  r.counter({ name: 'collector_database_write_timeouts_total', help: 'Database writes that had no answer in DB_WRITE_TIMEOUT_MS (or its doubling): their connections were closed and the batch retried on new ones.', collect: () => deps.writerStatus().writeTimeouts })
  r.counter({ name: 'collector_embedded_restarts_total', help: 'Restarts of the embedded database after it did not answer the writer for EMBEDDED_STALL_RESTART_MS (a query or transaction holding it, or PGlite wedged); 0 with DATABASE_URL.', collect: () => deps.embeddedRestarts() })
  r.counter({ name: 'collector_events_rejected_total', help: 'Events the database refused for their data, isolated and sent to bad rows (counted as the bad row is inserted: a replay after a restart, finding it stored, counts none).', collect: () => deps.writerStatus().rejectedEvents })
  const batchEvents = r.histogram({ name: 'collector_batch_events', help: 'Events per committed batch.', buckets: BATCH_BUCKETS })
  const commitSeconds = r.histogram({ name: 'collector_batch_commit_seconds', help: 'Time to write and commit one batch, retries included.', buckets: COMMIT_BUCKETS })
  const loadDelay = r.histogram({ name: 'collector_load_delay_seconds', help: 'Per committed batch: seconds from receiving its oldest webhook to the commit, how far the tables run behind PagerDuty.', buckets: DELAY_BUCKETS })
  r.gauge({
    name: 'collector_oldest_unloaded_age_seconds', help: 'Seconds since the oldest webhook not yet committed to the database was received (during an outage, about its length); 0 when none waits.',
    collect: () => { const at = deps.writerStatus().oldestUnloadedReceivedAt; return at ? Math.max(0, Date.now() - Date.parse(at)) / 1000 : 0 },
  })
  r.gauge({ name: 'collector_database_up', help: '1 when the last database write succeeded, 0 while it is down or not yet tried.', collect: () => (deps.writerStatus().database === 'up' ? 1 : 0) })
  r.gauge({
    name: 'collector_last_commit_timestamp_seconds', help: 'Unix time of the last committed batch; 0 before the first.',
    collect: () => { const at = deps.writerStatus().lastCommitAt; return at ? Date.parse(at) / 1000 : 0 },
  })
  const syncSeconds = r.histogram({ name: 'collector_spool_sync_seconds', help: 'Time to write and fsync one group commit of the spool: every webhook answered 2xx waited for one.', buckets: SYNC_BUCKETS })
  const groupRecords = r.histogram({ name: 'collector_spool_group_records', help: 'Webhooks (and rejected bodies) made durable by one fsync of the spool.', buckets: BATCH_BUCKETS })
  r.gauge({ name: 'collector_spool_bytes', help: 'Bytes in spool segment files.', collect: () => deps.spoolStats().bytes })
  r.gauge({ name: 'collector_spool_max_bytes', help: 'SPOOL_MAX_BYTES: once collector_spool_bytes reaches it, webhooks are answered 503.', collect: () => deps.spoolStats().maxBytes })
  r.gauge({ name: 'collector_spool_segments', help: 'Spool segment files.', collect: () => deps.spoolStats().segments })
  r.gauge({ name: 'collector_spool_backlog_events', help: 'Events durable in the spool and not yet committed to the database.', collect: () => deps.spoolStats().backlogEvents })
  r.gauge({ name: 'collector_spool_backlog_bytes', help: 'Spool bytes not yet committed to the database.', collect: () => deps.spoolStats().backlogBytes })
  r.gauge({ name: 'collector_spool_writable', help: '1 when the spool accepts appends (GET /ready is 200), else 0.', collect: () => (deps.spoolStats().writable ? 1 : 0) })
  r.gauge({ name: 'collector_spool_write_in_progress_seconds', help: 'How long the spool write (and fsync) in progress has run, 0 when none: a hung disk shows here, not in collector_spool_sync_seconds, which records completions.', collect: () => deps.spoolStats().writingForMs / 1000 })
  r.counter({ name: 'collector_spool_corrupt_records_total', help: 'Torn or corrupt spool records moved aside to DATA_DIR/spool/corrupt.', collect: () => deps.spoolStats().corruptRecords })
  const startedAt = Date.now() / 1000
  r.gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', collect: () => startedAt })
  // One read of /proc per scrape, shared by the process_* series (a figure that cannot be read is left out).
  let processStats: ProcessStats | null = null
  const processFigure = (pick: (s: ProcessStats) => number | null): Collect => () => {
    const value = pick(processStats ??= deps.processStats())
    return value === null ? [] : value
  }
  r.gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', collect: processFigure((s) => s.residentBytes) })
  r.counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', collect: processFigure((s) => s.cpuSeconds) })
  r.gauge({ name: 'process_open_fds', help: 'Number of open file descriptors.', collect: processFigure((s) => s.openFds) })
  r.gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors (the soft limit, LimitNOFILE).', collect: processFigure((s) => s.maxFds) })

  return {
    http: {
      request(route, status, seconds) {
        requests.inc({ route, status: String(status) })
        duration.observe(seconds, { route })
      },
      accepted(version, events, badRows, pingCount) {
        if (events > 0) accepted.inc({ version }, events)
        if (badRows > 0) bad.inc({ version }, badRows)
        if (pingCount > 0) pings.inc({ version }, pingCount)
      },
      authFailure(kind) {
        authFailures.inc({ kind })
      },
    },
    onCommit(result) {
      for (const [version, n] of Object.entries(result.loadedByVersion ?? {})) loaded.inc({ version }, n)
      if (result.duplicates > 0) duplicates.inc(undefined, result.duplicates)
      if (result.badRows > 0) badRowsLoaded.inc(undefined, result.badRows)
      batchEvents.observe(result.batchEvents)
      commitSeconds.observe(result.ms / 1000)
      if (typeof result.delaySeconds === 'number') loadDelay.observe(result.delaySeconds)
    },
    onSpoolSync(group) {
      syncSeconds.observe(group.seconds)
      groupRecords.observe(group.records)
    },
    text: () => {
      processStats = null
      return r.text()
    },
  }
}
