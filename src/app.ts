/**
 * Wires the path of one webhook: http -> adapter -> event -> spool -> sink -> database.
 * `startCollector` is what `collector serve` runs; tests start it in-process too.
 */
import fs from 'node:fs'
import path from 'node:path'
import type postgres from 'postgres'
import type { Config } from './config.ts'
import { createRegistry, rebuildWith } from './adapters/registry.ts'
import { createPagerDutyAdapter } from './adapters/pagerduty/index.ts'
import { connect, describeUrl } from './db/connect.ts'
import { databaseTls } from './db/tls.ts'
import { startEmbedded, type EmbeddedDatabase } from './db/embedded.ts'
import { migrate } from './db/migrate.ts'
import { createStallWatch, guardStalls, type Stall, type StallGuard, type StallWatch } from './db/stall-watch.ts'
import { basicAuth } from './http/auth.ts'
import { createHandler, routeAnswers } from './http/server.ts'
import type { Log } from './log.ts'
import { createCollectorMetrics, watchOpenFiles, type CollectorMetrics } from './metrics/index.ts'
import { createLazySink } from './sink/lazy.ts'
import { missingColumnsWarning } from './sink/tables.ts'
import { createWriter, STOP_GRACE_MS, type Writer, type WriterStatus } from './sink/writer.ts'
import { spoolReceipts } from './sink/receipt.ts'
import { openSpool, type Spool } from './spool/spool.ts'
import { CollectorError, errorMessage } from './errors.ts'
import { lockDataDir } from './data-dir-lock.ts'
import { COMMIT, VERSION } from './version.ts'

/**
 * The writer's status while the embedded database opens: nothing written yet, the database not
 * known; the oldest webhook waiting is the spool's (a backlog from before a restart waits there).
 */
function openingStatus(oldestWaitingMs: number | null): WriterStatus {
  return {
    database: 'unknown', lastError: null, lastErrorAt: null, lastCommitAt: null, loadedEvents: 0, duplicateEvents: 0, rejectedEvents: 0,
    writeTimeouts: 0, badRows: 0, batches: 0, oldestUnloadedReceivedAt: oldestWaitingMs === null ? null : new Date(oldestWaitingMs).toISOString(),
  }
}

/** A spool write (its fsync) running this long is a hung disk: /ready 503, logged. */
const SPOOL_STALL_MS = 10_000
/** How often open files are compared with their limit (and at each scrape of /metrics). */
const FD_CHECK_MS = 5_000

export interface Collector {
  url: URL
  embedded: EmbeddedDatabase | null
  spool: Spool
  metrics: CollectorMetrics
  ready(): { ready: boolean; body: unknown }
  /** SIGTERM: stop accepting, finish in-flight requests, drain for a bounded time. */
  stop(): Promise<void>
}

export interface Database {
  /** The pool in use: read it for each use, `reconnect` replaces it. */
  readonly sql: postgres.Sql
  /**
   * Closes the pool's connections at once, failing what is in flight on them, and opens a new
   * pool: the only way to leave a connection that went silent (postgres.js has no query
   * timeout, and the kernel gives up on it only after ~15 minutes).
   */
  reconnect(): void
  embedded: EmbeddedDatabase | null
  describe: string
}

function database(open: () => postgres.Sql, embedded: EmbeddedDatabase | null, describe: string): Database {
  let sql = open()
  return {
    get sql() { return sql },
    reconnect() {
      const old = sql
      sql = open()
      old.end({ timeout: 0 }).catch(() => {})
    },
    embedded,
    describe,
  }
}

/**
 * The external database from DATABASE_URL, or the embedded PGlite in DATA_DIR/pglite.
 * `onPanic`: that PGlite met a PANIC or its thread ended, and every statement sent to it,
 * the one in flight included, waits for good; required, so that no caller waits with it.
 */
export async function openDatabase(config: Config, onPanic: (reason: string) => void, signal?: AbortSignal, onWedged?: () => void): Promise<Database> {
  const url = config.databaseUrl
  if (url) {
    const tls = databaseTls(url, config.dialect)
    return database(() => connect({ url, dialect: config.dialect, tls }), null, describeUrl(url))
  }
  const embedded = await startEmbedded({ dataDir: config.dataDir, ...(config.embeddedPgPort !== undefined ? { port: config.embeddedPgPort } : {}), onPanic, ...(signal ? { signal } : {}), ...(onWedged ? { onWedged } : {}) })
  // The writer keeps its one connection for good: the embedded server takes 16 clients in
  // all, and psql users holding the others must not lock the writer out after an idle close.
  // A reconnect (a write timed out) while 16 others are open is refused all the same (53300):
  // the writer retries it as a database down until one closes (README).
  const open = () => connect({ url: embedded.url, dialect: 'postgres', max: 1, overrides: { idle_timeout: 0, max_lifetime: null, ...(embedded.socketPath ? { path: embedded.socketPath } : {}) } })
  return database(open, embedded, `embedded PGlite in ${embedded.dataDir}${embedded.socketPath ? ` (socket ${embedded.socketPath})` : ''}`)
}

/**
 * `onPanic` for a one-off command (`migrate`, `spool replay`, `bad-rows retry`): it ends at
 * once, status 1, saying so. Without it such a command waited for good on the statement that
 * met the PANIC ("database write still waiting"), never reaching its summary.
 */
export function endCommandOnPanic(log: Log, config: Config, rerun: string): (reason: string) => void {
  return (reason) => {
    log('error', `the embedded database stopped (a PostgreSQL PANIC, or its thread ended): ${rerun}`, { reason, data_dir: config.dataDir })
    process.exit(1)
  }
}

/**
 * DB_WRITE_TIMEOUT_MS where it can help: PostgreSQL over the network. The embedded database's
 * connection cannot go silent, and a new one would queue behind what holds PGlite: there
 * EMBEDDED_STALL_RESTART_MS restarts the database instead (restartEmbedded). On Redshift a
 * batch is a transaction holding a LOCK: a session the network cut off keeps it (idle in transaction) until the server notices, so retries
 * would only queue behind it, and a write abandoned while it commits could load a batch twice
 * where the collector may not LOCK; there the kernel's timeout decides.
 */
export function writeTimeoutFor(config: Config): number {
  return config.databaseUrl !== undefined && config.dialect === 'postgres' ? config.dbWriteTimeoutMs : 0
}

export interface StartOptions {
  /**
   * Settles when a stop is asked for (SIGTERM) before the start has finished: while the
   * embedded database is still opening, the port is already taking webhooks, and from then on
   * it refuses new ones, lets go of the port and gives up the open; the start then returns a
   * collector already stopped, whose `stop` only says so.
   */
  stopRequested?: Promise<unknown>
}

export async function startCollector(config: Config, log: Log, options: StartOptions = {}): Promise<Collector> {
  // Before anything in DATA_DIR is opened: a second process there would share the spool
  // (DATA_DIR_IN_USE, src/data-dir-lock.ts).
  const lock = lockDataDir(config.dataDir)
  if (!lock.held) log('warn', 'DATA_DIR is not locked: make sure no other collector uses it', { data_dir: config.dataDir, reason: lock.reason })
  try {
    return await start(config, log, lock.release, options)
  } catch (error) {
    lock.release()
    throw error
  }
}

/**
 * Bun.serve's idleTimeout. Measured on Bun 1.4: a connection that sends no request is closed
 * after 10 s (Bun's own header timeout), an idle keep-alive connection after this many
 * seconds, and so is a request whose body has not all arrived this long after its headers,
 * even one still sending (body bytes do not restart the timer while the handler reads): no
 * answer, the handler sees the request aborted. See docs/operating.md, "Slow and hostile clients".
 */
export const IDLE_TIMEOUT_SECONDS = 30

/** Bun.serve, its failure named by address (Bun says `EEXIST ... listen` for a host it cannot resolve). */
function listen(config: Config, options: Omit<Parameters<typeof Bun.serve>[0], 'port' | 'hostname'>): ReturnType<typeof Bun.serve> {
  try {
    return Bun.serve({ ...options, port: config.port, hostname: config.host } as Parameters<typeof Bun.serve>[0])
  } catch (error) {
    throw new CollectorError('LISTEN_FAILED', `cannot listen on ${config.host}:${config.port}: ${errorMessage(error)}`, true, { cause: error })
  }
}

/**
 * The writer from the spool into an open database, through the lazy sink (connect, migrate,
 * load); its calls to the database timed by `watch` when given.
 */
function createDatabaseWriter(options: { config: Config; log: Log; spool: Spool; registry: ReturnType<typeof createRegistry>; database: Database; onCommit: CollectorMetrics['onCommit']; watch?: StallWatch }): Writer {
  const { config, log, database } = options
  const lazy = createLazySink({
    sql: database.sql,
    reconnect: () => { database.reconnect(); return database.sql },
    dialect: config.dialect,
    schema: config.dbSchema,
    migrate: async () => {
      for (const warning of await migrate(database.sql, config.dialect, config.dbSchema)) log('warn', warning)
    },
    onMissingColumns: (table, keys) => log('warn', missingColumnsWarning(table, keys), { table, columns: keys }),
    onTablesChanged: (error) => log('warn', 'the tables changed under the writer: reading them again before the retry', { error: errorMessage(error) }),
    onReadOnly: (error) => log('warn', 'the database refused a write as read-only (a failover?): retrying on new connections', { error: errorMessage(error) }),
    onCannotSerialise: (error) => log('warn', 'cannot LOCK the bad rows table: with several collectors on one Redshift, a retried delivery loading on two at the same moment could load twice; grant this login the right to lock it, or run one collector', { error: errorMessage(error) }),
  })
  return createWriter({
    spool: options.spool,
    rebuild: rebuildWith(options.registry),
    sink: options.watch ? options.watch.watch(lazy) : lazy,
    maxRows: config.batchMaxRows,
    maxBatchBytes: config.batchMaxBytes,
    maxWaitMs: config.batchMaxWaitMs,
    // Redshift: one batch at a time, so two batches of one collector never dedupe against
    // each other's uncommitted rows (snapshot isolation; see sink/redshift.ts).
    concurrency: config.dialect === 'redshift' ? 1 : 2,
    writeTimeoutMs: writeTimeoutFor(config),
    log,
    onCommit: options.onCommit,
  })
}

/** Where this host reaches the server: a wildcard address as loopback, IPv6 in brackets. */
export function localUrl(host: string, port: number): URL {
  const reach = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return new URL(`http://${reach.includes(':') ? `[${reach}]` : reach}:${port}`)
}

/** Bytes an unprivileged process may still write on the file system holding `dir` (null: unknown). */
function freeBytes(dir: string): number | null {
  try {
    const stats = fs.statfsSync(dir)
    return stats.bavail * stats.bsize
  } catch {
    return null
  }
}

/**
 * What a start stopped while the embedded database opened returns: everything is closed
 * already; the caller's stop only says so, as a stop does (`collector stopped`).
 */
function stoppedWhileOpening(parts: Pick<Collector, 'url' | 'spool' | 'metrics' | 'ready'> & { log: Log }): Collector {
  const { log, ...rest } = parts
  return {
    ...rest,
    embedded: null,
    async stop() {
      log('info', 'collector stopped', { backlog_events: parts.spool.stats().backlogEvents, loaded_events: 0 })
    },
  }
}

async function start(config: Config, log: Log, releaseDataDir: () => void, options: StartOptions): Promise<Collector> {
  let embedded: EmbeddedDatabase | null = null
  // Read at scrape time: the spool and the writer below exist by the first scrape.
  const adapters = [createPagerDutyAdapter(VERSION)]
  const registry = createRegistry(adapters)
  const metrics = createCollectorMetrics({
    version: VERSION,
    requestSeries: routeAnswers(registry.routes()),
    webhookVersions: adapters.flatMap((adapter) => adapter.versions),
    spoolStats: () => spool.stats(),
    writerStatus: () => writerStatus(),
    processStats: () => fdWatch.check(),
    embeddedRestarts: () => embeddedRestarts,
  })
  const fdWatch = watchOpenFiles(log, FD_CHECK_MS)
  const spool = openSpool({
    dir: path.join(config.dataDir, 'spool'),
    maxBytes: config.spoolMaxBytes,
    segmentBytes: config.spoolSegmentBytes,
    // The batches the writer reads next at full load: four of BATCH_MAX_BYTES (1 MiB of
    // records by default; their built rows took ~7 MiB of peak RSS in a 20 s outage at
    // 2,000 req/s, which is when the bound is reached).
    memoMaxBytes: 4 * config.batchMaxBytes,
    memoMaxEvents: 4 * config.batchMaxRows,
    // At most ten checkpoint writes (two fsyncs and a rename each) a second, not one per
    // batch; with the embedded database one a second, each after flushing PGlite's files.
    checkpointIntervalMs: config.databaseUrl === undefined ? 1000 : 100,
    beforeCheckpoint: async () => { await embedded?.flush() },
    // No bytes: none to keep, the file that held them is gone (removed or cut short outside
    // the collector, found by the reader or at start), and its unloaded webhooks with it.
    onCorrupt: ({ file, ...info }) => info.bytes === 0
      ? log('error', 'spool records gone: their segment file was removed or cut short outside the collector; the webhooks it held from this offset on that had not loaded are lost', info)
      : log('error', 'corrupt spool record moved aside', { ...info, file }),
    onDamagedCheckpoint: (info) => log('error', 'spool checkpoint damaged: replaying from the oldest segment (what loaded already is not loaded twice)', info),
    onActiveDeleted: ({ error, ...info }) => error === undefined
      ? log('error', 'the spool\'s active segment was deleted outside the collector: written again from the open file, nothing acknowledged is lost', info)
      : log('error', 'the spool\'s active segment was deleted outside the collector and cannot be written again: webhooks get 503, and those acknowledged in it are lost if the collector stops before it can', { ...info, error }),
    onGroupCommit: metrics.onSpoolSync,
    stallMs: SPOOL_STALL_MS,
    onStall: ({ state, ms }) => state === 'stalled'
      ? log('error', `the spool's disk has not finished a write for ${SPOOL_STALL_MS / 1000} s (a hung disk?): /ready answers 503 until it does; webhooks arriving meanwhile wait or get 503`, { data_dir: config.dataDir, seconds: Math.round(ms / 1000) })
      : log('warn', 'the spool\'s disk finished the write it hung on', { seconds: Math.round(ms / 1000) }),
  })
  const free = freeBytes(config.dataDir)
  if (free !== null && free + spool.stats().bytes < config.spoolMaxBytes) {
    log('warn', 'the disk holding DATA_DIR fills before SPOOL_MAX_BYTES: in a long outage webhooks get 503 once it is full, until the backlog loads', { data_dir: config.dataDir, free_bytes: free, spool_max_bytes: config.spoolMaxBytes })
  }
  // A PGlite that met a PANIC never answers again: left running, the writer waited for good
  // while /ready said ready. Exit 1 (the unit restarts it); what was acknowledged is in the spool.
  // `giveUpOpening`: a stop asked for while the embedded database opens.
  const giveUpOpening = new AbortController()
  const opening = openDatabase(config, (reason) => {
    log('error', 'the embedded database stopped (a PostgreSQL PANIC, or its thread ended): exiting, to be started again; acknowledged webhooks wait in the spool', { reason, data_dir: config.dataDir })
    process.exit(1)
  }, giveUpOpening.signal, () => {
    if (stallGuard) stallGuard.wedged()
    // Restarts turned off: loading stops here until someone restarts the collector, which
    // without this line nothing in the log explained. (Wedged before the writer is attached,
    // with restarts on: its first call waits, and the stall restarts it.)
    else if (config.embeddedStallRestartMs === 0) log('error', 'the embedded database answered a statement without finishing its answer and answers nothing more (PGlite wedged; convert_to(x, \'WIN1252\') from psql does it): not restarted (EMBEDDED_STALL_RESTART_MS=0): loading waits until the collector is restarted; acknowledged webhooks wait in the spool', { data_dir: config.dataDir })
  })
  // Until the database is open there is no writer: webhooks wait in the spool, as in an outage.
  let writer: Writer | null = null
  let stallGuard: StallGuard | null = null
  let embeddedRestarts = 0
  /** While the embedded database restarts: why, for /ready. */
  let restartingFor: string | null = null
  const attach = (opened: Database): Database => {
    embedded = opened.embedded
    const watch = opened.embedded && config.embeddedStallRestartMs > 0 ? createStallWatch() : undefined
    writer = createDatabaseWriter({ config, log, spool, registry, database: opened, onCommit: metrics.onCommit, ...(watch ? { watch } : {}) })
    writer.start()
    if (watch && opened.embedded) {
      const target = opened.embedded
      stallGuard = guardStalls(watch, config.embeddedStallRestartMs, (stall) => restartEmbedded(target, stall))
    }
    return opened
  }
  /**
   * The embedded database kept the writer waiting EMBEDDED_STALL_RESTART_MS, or PGlite said it
   * is wedged: its thread is ended, which closes every connection to it (socket clients get a
   * connection error; the writer's calls fail at once and are retried, their pool connecting
   * again once it is open), and DATA_DIR/pglite opened again. What may have committed before loads again as duplicates
   * (event_id). A reopen that fails ends the process as a PANIC does (exit 1, restarted by
   * the unit); a stop meanwhile gives the reopen up.
   */
  async function restartEmbedded(target: EmbeddedDatabase, stall: Stall): Promise<void> {
    const seconds = Math.round(stall.waitedMs / 1000)
    // No statement text: a psql user's query can quote personal data.
    restartingFor = stall.wedged
      ? 'a statement sent to it got no complete answer (PGlite wedged)'
      : `it did not answer the writer for ${seconds} s (EMBEDDED_STALL_RESTART_MS)`
    log('error', stall.wedged
      ? 'the embedded database answered a statement without finishing its answer and answers nothing more (PGlite wedged; convert_to(x, \'WIN1252\') from psql does it): restarting it; connections on its socket are closed, and acknowledged webhooks wait in the spool until it is open again'
      : `the embedded database has not answered the writer for ${seconds} s (EMBEDDED_STALL_RESTART_MS): restarting it; connections on its socket are closed (a query or an open transaction of one may be what held it), and acknowledged webhooks wait in the spool until it is open again`, { seconds, data_dir: config.dataDir })
    embeddedRestarts++
    const since = performance.now()
    try {
      await target.restart()
    } catch (error) {
      if (shuttingDown) return
      log('error', 'the embedded database could not be restarted: exiting, to be started again; acknowledged webhooks wait in the spool', { error: errorMessage(error), data_dir: config.dataDir })
      process.exit(1)
    } finally {
      restartingFor = null
    }
    log('info', 'embedded database restarted', { ms: Math.round(performance.now() - since) })
  }
  // The external database: a pool, made at once; listening follows, as always.
  let database: Database | null = config.databaseUrl !== undefined ? attach(await opening) : null
  const describe = () => database?.describe ?? `embedded PGlite in ${path.resolve(config.dataDir, 'pglite')} (opening)`
  // Until there is a writer, from the spool: collector_oldest_unloaded_age_seconds read 0 all
  // the while the embedded database opened (seconds, or as long as it hangs) over a backlog.
  const receiptAt = spoolReceipts(spool)
  const writerStatus = (): WriterStatus => {
    const status = writer?.status() ?? openingStatus(spool.pending() ? receiptAt(spool.checkpoint()) : null)
    if (restartingFor === null) return status
    return { ...status, database: 'down', lastError: `the embedded database is being restarted: ${restartingFor}`, lastErrorAt: new Date().toISOString() }
  }

  let shuttingDown = false
  const ready = () => {
    const s = spool.stats()
    const w = writerStatus()
    const isReady = s.writable && !shuttingDown
    // Why webhooks get 503, in the words an operator acts on.
    const reason = isReady ? null
      : shuttingDown ? 'shutting down'
      : s.lastError !== null ? `the spool cannot write to disk (${s.lastError}); it is tried again every few seconds`
      : s.writingForMs >= SPOOL_STALL_MS ? `the spool's disk has not finished a write (fsync) for ${Math.round(s.writingForMs / 1000)} s: a hung disk?`
      : `the spool is full: ${s.bytes + s.waitingBytes} bytes of SPOOL_MAX_BYTES=${s.maxBytes}; webhooks are taken again as the backlog loads`
    return {
      ready: isReady,
      body: {
        status: isReady ? 'ready' : 'not_ready',
        reason,
        spool: {
          writable: s.writable, bytes: s.bytes, max_bytes: s.maxBytes, segments: s.segments, backlog_events: s.backlogEvents, backlog_bytes: s.backlogBytes,
          corrupt_records: s.corruptRecords, last_error: s.lastError, writing_for_ms: s.writingForMs,
        },
        database: {
          state: w.database, dialect: config.dialect, target: describe(), last_error: w.lastError, last_error_at: w.lastErrorAt, last_commit_at: w.lastCommitAt,
        },
        writer: { loaded_events: w.loadedEvents, duplicate_events: w.duplicateEvents, rejected_events: w.rejectedEvents, bad_rows: w.badRows, batches: w.batches, oldest_unloaded_received_at: w.oldestUnloadedReceivedAt },
      },
    }
  }

  const handler = createHandler({
    registry,
    append: (record, events, decoded) => spool.append(record, events, decoded),
    ready,
    metricsText: metrics.text,
    metrics: metrics.http,
    ...(config.basicAuthUsers.length > 0 ? { basicAuth: basicAuth(config.basicAuthUsers) } : {}),
    webhookSecrets: config.webhookSecrets,
    signedOnly: config.signedOnly,
    maxBodyBytes: config.maxBodyBytes,
    idleTimeoutSeconds: IDLE_TIMEOUT_SECONDS,
    shuttingDown: () => shuttingDown,
    log,
  })
  /**
   * What the HTTP server feeds, closed in order: the writer (draining up to `drainMs`), the
   * spool, the pool, the embedded database. The pool is closed within `drainMs` + STOP_GRACE_MS
   * of the call: a statement on a connection gone silent (no answer, no reset) never ends, and
   * waiting 5 s more for it (postgres.js's `end({ timeout })`) made a SIGTERM take 11 s with the
   * default 5 s drain. What it carried stays in the spool (its checkpoint never moved) and
   * loads at the next start.
   */
  async function closeBehindServer(drainMs: number): Promise<void> {
    const closeBy = Date.now() + drainMs + STOP_GRACE_MS
    fdWatch.stop()
    stallGuard?.stop()
    // A start that fails while the embedded database opens: it is closed once open.
    const opened = database ?? await opening.catch(() => null)
    await writer?.stop(drainMs)
    await spool.close()
    if (!opened) return
    await opened.sql.end({ timeout: Math.max(0, closeBy - Date.now()) / 1000 }).catch(() => {})
    await opened.embedded?.stop().catch((error) => log('warn', 'embedded database did not close cleanly', { error: errorMessage(error) }))
  }
  let server: ReturnType<typeof Bun.serve>
  try {
    server = listen(config, {
      // Bodies up to this size reach the handler, which answers 413 with our error envelope
      // past MAX_BODY_BYTES (and Bun reads the rest, discarding it); beyond it Bun itself
      // refuses with a bare 413, before reading any. Unbounded, a declared 400 MiB kept the
      // connection reading for all of it; closing it after our 413 instead made the client
      // see a reset, not the 413 (the kernel discards an answer when unread input remains).
      maxRequestBodySize: Math.max(2 * config.maxBodyBytes, config.maxBodyBytes + 16 * 1024 * 1024),
      idleTimeout: IDLE_TIMEOUT_SECONDS,
      fetch: handler,
      error: (error) => {
        log('error', 'unhandled server error', { error: errorMessage(error) })
        return new Response(JSON.stringify({ error: { code: 'SPOOL_IO', message: 'internal error; retry later', issues: [] } }), { status: 503, headers: { 'retry-after': '30', 'content-type': 'application/json; charset=utf-8' } })
      },
    })
  } catch (error) {
    // Nothing to serve: what was opened is closed (the embedded database's socket included),
    // so a start retried in a loop leaves nothing behind.
    await closeBehindServer(0).catch(() => {})
    throw error
  }
  const url = localUrl(config.host, server.port as number)
  if (!database) {
    // The embedded database opens on its own thread (2-5 s creating it at a first start):
    // webhooks are acknowledged from the spool meanwhile, and load once it is open.
    const openingSince = performance.now()
    log('info', 'accepting webhooks; opening the embedded database', { url: url.href, data_dir: path.resolve(config.dataDir) })
    // A stop asked for meanwhile: it stops accepting now, not once the database has opened
    // (seconds later, every webhook until then acknowledged as if no signal had come), and
    // gives up the open: every webhook acknowledged is fsync'd in the spool and loads at the
    // next start, and an open that hangs (a disk that does not answer) kept the stop waiting
    // until systemd's SIGKILL at TimeoutStopSec (45 s), a failure in the journal.
    void options.stopRequested?.then(() => {
      if (database || shuttingDown) return
      shuttingDown = true
      log('info', 'stop requested while the embedded database opens: refusing new webhooks and stopping without waiting for it; acknowledged webhooks are in the spool and load at the next start', { backlog_events: spool.stats().backlogEvents })
      void server.stop(false)
      giveUpOpening.abort(new Error('stopped while the embedded database opened'))
    })
    try {
      database = attach(await opening)
    } catch (error) {
      // Given up by a stop, or failed on its own (said, exit 1), even if a stop comes meanwhile.
      const givenUp = giveUpOpening.signal.aborted
      // As a stop: the webhooks in flight are answered (acknowledged ones are in the spool and
      // load at the next start), new ones get 503, then what was opened is closed.
      shuttingDown = true
      await Promise.race([server.stop(false), Bun.sleep(10_000)])
      await closeBehindServer(0).catch(() => {})
      if (!givenUp) throw error
      releaseDataDir()
      return stoppedWhileOpening({ url, spool, metrics, ready, log })
    }
    log('debug', 'embedded database open', { ms: Math.round(performance.now() - openingSince) })
  }
  const opened = database
  log('info', 'collector started', {
    // url: where this host reaches it; listen: what it is bound to (0.0.0.0: every interface).
    version: VERSION, commit: COMMIT, url: url.href, listen: `${config.host.includes(':') ? `[${config.host}]` : config.host}:${String(server.port)}`, database: opened.describe, dialect: config.dialect, schema: config.dbSchema,
    embedded_pg_port: opened.embedded?.port ?? null, data_dir: path.resolve(config.dataDir), backlog_events: spool.stats().backlogEvents,
  })

  return {
    url,
    embedded: opened.embedded,
    spool,
    metrics,
    ready,
    async stop() {
      shuttingDown = true
      log('info', 'shutting down: finishing in-flight requests')
      await Promise.race([server.stop(false), new Promise((r) => setTimeout(r, 10_000))])
      await closeBehindServer(config.shutdownDrainMs)
      releaseDataDir()
      log('info', 'collector stopped', { backlog_events: spool.stats().backlogEvents, loaded_events: writerStatus().loadedEvents })
    },
  }
}
