/**
 * The writer drains the spool oldest-first into the database: one transaction per batch of
 * up to BATCH_MAX_ROWS events, gathered for at most BATCH_MAX_WAIT_MS. Up to `concurrency`
 * batches are in flight at once (on separate connections), so the next batch is read and
 * encoded while the database works on the previous one; batches commit in any order, loads
 * being idempotent, but the checkpoint moves only in spool order, past batches that have all
 * committed. While the database is unreachable batches are retried with capped exponential
 * backoff and the backlog waits on disk (memory holds `concurrency` batches at most). A
 * batch the database rejects for its data is split until the offending events are isolated;
 * they become bad rows carrying the database's error, and the rest load.
 */
import { rateLimited, type Log } from '../log.ts'
import { badRowForRejected, decodeRecord, oldestReceivedMs, type Rebuild } from './records.ts'
import { spoolReceipts } from './receipt.ts'
import { describeDatabaseError, isDataError, isStatementTimeout, isTransactionConflict } from './classify.ts'
import { addByVersion, type Batch, type Sink, type WriteResult } from './batch.ts'
import type { Position, Spool } from '../spool/spool.ts'
import type { BadRow } from '../events/event.ts'
import { errorMessage } from '../errors.ts'

export interface WriterOptions {
  spool: Spool
  sink: Sink
  maxRows: number
  maxWaitMs: number
  /**
   * Upper bound of spool bytes per batch (BATCH_MAX_BYTES, default 1 MiB). A batch's memory is
   * several times its spool bytes while in flight (decoded rows, the column literals, and
   * postgres.js's copies of the Bind message), and two are in flight: bounding bytes rather
   * than rows kept peak RSS at full load under 150 MiB (197 MiB with 1000 rows of ~4.7 KB).
   */
  maxBatchBytes?: number
  /**
   * Capped exponential backoff while the database fails. `refusedMaxMs` caps it lower while
   * connections are refused outright (nothing listens: a restart, a failover): probing costs
   * the database nothing then, and the cap is how long loading lags once it is back.
   */
  backoff?: { initialMs: number; maxMs: number; refusedMaxMs?: number }
  /**
   * A write still waiting after this long is logged and shown as the last error (default
   * 30 s): a lock held elsewhere (a psql transaction left open on the embedded port), or a
   * connection the network dropped without a reset, which the kernel gives up on only after
   * its retransmission timeout. Loading waits; webhooks are still taken into the spool.
   */
  slowWriteMs?: number
  /**
   * A write (one batch, or one part of a batch over `maxRows` events, its isolation included,
   * or the start's table check) not finished after this long is given up: the sink closes its
   * connections, which fails the write at once, and it is retried on new ones like any failed
   * write. A connection the network dropped
   * without a reset (a NAT or firewall that forgot it, a failed-over server) would otherwise
   * hold the batch, and the checkpoint behind it, until the kernel's retransmission timeout
   * (~15 minutes). Each timeout doubles the limit (up to 16x) until a write succeeds, so a
   * write that is only slow (a lock held elsewhere) gets through. Unset or 0: never.
   */
  writeTimeoutMs?: number
  log: Log
  /** What the warn line says happens when the database becomes unavailable (default: events wait in the spool). */
  whenDown?: string
  /**
   * After each batch commits: its counts, how long its write took, and `delaySeconds`, from
   * the receipt of its oldest webhook to the commit (how far loading runs behind PagerDuty).
   */
  onCommit?: (result: WriteResult & { batchEvents: number; ms: number; delaySeconds: number | null }) => void
  /** Builds the events of records stored as received webhooks (the adapter registry). */
  rebuild?: Rebuild
  /**
   * A failure that repeats at every batch (the checkpoint write on a full disk), or for many
   * events (the database refusing them, per SQLSTATE), is logged at its first occurrence,
   * then at most this often (default 60 s) with the count of the ones not logged (and the
   * checkpoint's end once).
   */
  repeatedLogMs?: number
  /** Batches in flight at once (default 2); the embedded database serialises them anyway. */
  concurrency?: number
  /**
   * While nothing is written, the database is asked (`sink.ping`) this often (default 15 s),
   * so that /ready, `collector_database_up` and the outage log lines follow it in a quiet hour
   * too, not only from the next webhook. 0: never. A probe with no answer in PROBE_TIMEOUT_MS
   * (or `writeTimeoutMs`, when less; never when that is unset) counts as the database down.
   */
  idleProbeMs?: number
}

export type DatabaseState = 'unknown' | 'up' | 'down'

export interface WriterStatus {
  database: DatabaseState
  lastError: string | null
  lastErrorAt: string | null
  lastCommitAt: string | null
  loadedEvents: number
  duplicateEvents: number
  /**
   * Events the database refused for their data whose bad row this process inserted: one
   * rejection counts once, in the process that stored it, however often its batch is retried
   * or its record replayed.
   */
  rejectedEvents: number
  /** Writes given up after `writeTimeoutMs` (their connections closed, retried on new ones). */
  writeTimeouts: number
  badRows: number
  batches: number
  /**
   * When the oldest webhook not yet committed was received (ISO), null when none waits: during
   * an outage, about how far back the tables are complete.
   */
  oldestUnloadedReceivedAt: string | null
}

/**
 * How long `stop` waits, after its drain time, for the batches in flight: a statement already
 * sent commits in a few milliseconds on a database that answers, and what it inserted is then
 * counted; on a connection gone silent it never answers, and the caller closes the pool.
 */
export const STOP_GRACE_MS = 1000

export interface Writer {
  start(): void
  /**
   * Drains for at most `drainMs`, then stops, returning within `drainMs` + STOP_GRACE_MS; what
   * is left stays in the spool.
   */
  stop(drainMs: number): Promise<void>
  status(): WriterStatus
}

/** SQLSTATE and column of a database error: enough to act on, no data values. */
const errorCodeOf = (error: unknown): Record<string, unknown> => {
  const e = error as { code?: unknown; column_name?: unknown }
  return { sqlstate: e.code ?? null, column: e.column_name ?? null }
}

/** Transaction conflicts in a row (40001, 40P01, Redshift's 1023) retried at once before they count as an outage. */
const MAX_CONFLICT_RETRIES = 5

/**
 * The longest wait before retry `attempt` (0-based) after `error`; the writer sleeps a random
 * 50-100% of it. Doubling from `initialMs`, capped at `maxMs`, or at `refusedMaxMs` (default
 * 1 s) while the connection is refused.
 */
export function backoffCeiling(attempt: number, error: unknown, backoff: NonNullable<WriterOptions['backoff']>): number {
  const refused = (error as { code?: unknown } | null)?.code === 'ECONNREFUSED'
  const cap = refused ? Math.min(backoff.maxMs, backoff.refusedMaxMs ?? 1000) : backoff.maxMs
  return Math.min(cap, backoff.initialMs * 2 ** Math.min(attempt, 20))
}

/** A write given up after `writeTimeoutMs` (or its doubling). */
export class WriteTimeoutError extends Error {
  override name = 'WriteTimeoutError'
  constructor(readonly ms: number) {
    super(`no answer from the database in ${ms / 1000} s: its connections were closed and the write is retried on new ones`)
  }
}

/** `work`, or a WriteTimeoutError after `ms` (0: never); the work's later failure is ignored. */
export function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  if (!(ms > 0)) return work
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new WriteTimeoutError(ms)), ms) })
  work.catch(() => {})
  return Promise.race([work, expired]).finally(() => clearTimeout(timer))
}

/**
 * An idle probe (`select 1`) with no answer this long calls the database down, and its
 * connections are replaced when nothing is being written: on a connection the network
 * dropped without a reset, it would wait for the kernel (~15 minutes), the database shown up
 * all along and no later probe sent.
 */
export const PROBE_TIMEOUT_MS = 10_000

/** The limit of a write after `timeouts` writes in a row timed out. */
export const timeoutAfter = (baseMs: number, timeouts: number): number => baseMs * 2 ** Math.min(timeouts, 4)

/** A sleep that `wakeAll` ends early (on stop), whoever is sleeping. */
/** Between half and all of `ms`: instances retrying after one outage do not retry in step. */
const jittered = (ms: number): number => Math.round(ms * (0.5 + Math.random() / 2))

const sleep = (ms: number, sleepers: Set<() => void>) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() { clearTimeout(timer); sleepers.delete(done); resolve() }
    sleepers.add(done)
  })

/** A batch being written, or (`result` null) a move past bytes with no records, committed in its turn. */
interface InFlight { next: Position; events: number; batchEvents: number; started: number; oldestMs: number | null; result: Promise<WriteResult | null> | null }

/**
 * A batch of more than `maxRows` events in statements of at most `maxRows` (its bad rows with
 * the first): one record is never split across batches, and a v1 webhook of 1 MiB of tiny
 * messages is ~15,000 events, whose column literals and postgres.js's copies of them came on
 * top of the built rows, twice with two batches in flight. Each part commits on its own and
 * is retried on its own; a crash before the last loads the earlier ones again, as duplicates
 * (event_id).
 */
export function chunkBatch(batch: Batch, maxRows: number): Batch[] {
  const parts: Batch[] = []
  for (let i = 0; i < batch.events.length; i += maxRows) parts.push({ events: batch.events.slice(i, i + maxRows), badRows: i === 0 ? batch.badRows : [] })
  return parts
}

const emptyResult = (): WriteResult => ({ loaded: 0, duplicates: 0, badRows: 0, loadedByVersion: {} })

/** Adds the counts of `r` into `total`. */
function addResult(total: WriteResult, r: WriteResult): void {
  addByVersion(total.loadedByVersion as Record<string, number>, r.loadedByVersion)
  total.loaded += r.loaded
  total.duplicates += r.duplicates
  total.badRows += r.badRows
}

/**
 * A batch the database rejected for its data, in strictly smaller parts (it holds at least
 * two rows): events apart from bad rows first, then halves. Every part must be smaller than
 * the batch, or isolating an event would retry the same statement forever.
 */
export function splitBatch(batch: Batch): Batch[] {
  const { events, badRows } = batch
  if (events.length > 0 && badRows.length > 0) return [{ events, badRows: [] }, { events: [], badRows }]
  if (events.length > 1) {
    const half = Math.ceil(events.length / 2)
    return [{ events: events.slice(0, half), badRows: [] }, { events: events.slice(half), badRows: [] }]
  }
  const half = Math.ceil(badRows.length / 2)
  return [{ events: [], badRows: badRows.slice(0, half) }, { events: [], badRows: badRows.slice(half) }]
}

export function createWriter(options: WriterOptions): Writer {
  const { spool, sink, log } = options
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 30_000 }
  const maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024
  // The oldest webhook waiting is read when the status is asked for (oldestUnloadedMs).
  const status: Omit<WriterStatus, 'oldestUnloadedReceivedAt'> = {
    database: 'unknown', lastError: null, lastErrorAt: null, lastCommitAt: null,
    loadedEvents: 0, duplicateEvents: 0, rejectedEvents: 0, writeTimeouts: 0, badRows: 0, batches: 0,
  }
  /** Lines of a failure that repeats (a checkpoint write, events refused), at most once per repeatedLogMs each. */
  const logRepeated = rateLimited(log, options.repeatedLogMs ?? 60_000)
  let running = false
  let deadline = Infinity
  let loop: Promise<void> | null = null
  const sleepers = new Set<() => void>()
  /** Batches waiting out a backoff: a commit ends their wait, the database is back. */
  const retrying = new Set<() => void>()
  const stopping = () => Date.now() >= deadline

  /** The statement_timeout split is said once: it would be said at every batch. */
  let timeoutSplitLogged = false
  /** Writes timed out since the last that succeeded: each doubles the next one's limit. */
  let timeoutsInARow = 0
  const writeLimit = () => timeoutAfter(options.writeTimeoutMs ?? 0, timeoutsInARow)

  /** Changes of the database's state, and when the writer last tried it (a write or a probe). */
  let stateChanges = 0
  let triedAt = performance.now()
  let probing = false

  /**
   * Asks the database while nothing is written (not awaited: a silenced connection must not
   * hold the next webhook's batch). Its answer counts only if no write decided the state
   * meanwhile.
   */
  function probeWhenIdle(): void {
    const every = options.idleProbeMs ?? 15_000
    if (every <= 0 || probing || !sink.ping || performance.now() - triedAt < every) return
    probing = true
    const before = stateChanges
    const limitMs = Math.min(options.writeTimeoutMs ?? 0, PROBE_TIMEOUT_MS)
    withTimeout(sink.ping(), limitMs).then(
      () => { if (stateChanges === before && running) markUp() },
      (error: unknown) => {
        if (stateChanges !== before || !running) return
        if (!(error instanceof WriteTimeoutError)) { markDown(error); return }
        markDown(new Error(`no answer from the database to a probe (select 1) in ${limitMs / 1000} s: a connection gone silent?`))
        // A write in flight has its own limit; with none, the silent connection is let go.
        if (inflight.length === 0) sink.abandon?.()
      },
    ).finally(() => { probing = false; triedAt = performance.now() })
  }

  function markUp() {
    stateChanges++
    triedAt = performance.now()
    timeoutsInARow = 0
    if (status.database !== 'up') log('info', 'database reachable', { previous: status.database })
    status.database = 'up'
    // The other batch in flight may be sleeping out a long backoff: retry it now, or the
    // checkpoint (which moves in spool order) waits for it (4.2 s in the benchmark).
    for (const wake of [...retrying]) wake()
  }

  function markDown(error: unknown) {
    stateChanges++
    triedAt = performance.now()
    status.lastError = errorMessage(error)
    status.lastErrorAt = new Date().toISOString()
    // After stop, a write in flight fails because the shutdown closes its connection: not an
    // outage, and its batch stays in the spool for the next start.
    if (!running) log('debug', 'database write ended by the shutdown: its batch stays in the spool', { error: status.lastError })
    else if (status.database !== 'down') log('warn', `database unavailable: ${options.whenDown ?? 'events wait in the spool'}`, { error: status.lastError })
    status.database = 'down'
  }

  /**
   * A bad row, or, if the database refuses it too (its payload carries what the event's
   * value did: a character the database's encoding lacks, say), its essentials. Resolves to
   * the rows inserted: none when a replay finds it loaded already.
   */
  async function writeBadRow(row: BadRow): Promise<number> {
    try {
      return (await sink.write({ events: [], badRows: [row] })).badRows
    } catch (error) {
      if (!isDataError(error)) throw error
      log('error', 'database rejected a bad row: stored without its payload', errorCodeOf(error))
      return writeEssentials(row, describeDatabaseError(error))
    }
  }

  /** A bad row without its payload, its detail the database's error; the last resort, never stalling the pipeline. */
  async function writeEssentials(row: BadRow, reason: string): Promise<number> {
    const detail = (message: string) => JSON.stringify([{ path: '', message }])
    try {
      return (await sink.write({ events: [], badRows: [{ ...row, payload: null as unknown as string, request: null, detail: detail(reason) }] })).badRows
    } catch (error) {
      if (!isDataError(error)) throw error
      // Even the error's text is refused (it quotes the value): the SQLSTATE alone.
      return (await sink.write({ events: [], badRows: [{ ...row, payload: null as unknown as string, request: null, detail: detail(`SQLSTATE ${String(errorCodeOf(error).sqlstate ?? 'unknown')}`) }] })).badRows
    }
  }

  /**
   * Writes `batch`, isolating rows the database rejects; throws only for non-data errors. A
   * batch that runs past the server's statement_timeout is written in halves (down to one
   * event), or it would time out again at every retry and nothing would ever load.
   */
  async function writeIsolating(batch: Batch): Promise<WriteResult> {
    try {
      return await sink.write(batch)
    } catch (error) {
      const size = batch.events.length + batch.badRows.length
      if (isStatementTimeout(error) && size > 1) {
        if (!timeoutSplitLogged) log('warn', 'a batch ran past the database\'s statement_timeout: writing it in smaller parts', { events: batch.events.length, ...errorCodeOf(error) })
        timeoutSplitLogged = true
        return writeParts(splitBatch(batch))
      }
      if (!isDataError(error)) throw error
      if (size <= 1) {
        const reason = describeDatabaseError(error)
        const event = batch.events[0]
        if (event) {
          // The database's message can quote the value; the bad row keeps it, the log does not.
          // Once a minute per SQLSTATE, as every bad-row reason: a constraint that refuses
          // thousands of events must not write a line for each (their ids are in bad_rows).
          const codes = errorCodeOf(error)
          logRepeated(`rejected/${String(codes.sqlstate)}`, 'warn', 'database rejected an event: sent to bad rows', { event_id: event.eventId, ...codes })
          const inserted = await writeBadRow(badRowForRejected(event, reason))
          // Counted as its bad row is inserted (in a transaction of its own, so at once): a
          // retry of the batch, or a replay after a restart, finds it stored and counts none.
          status.rejectedEvents += inserted
          return { loaded: 0, duplicates: 0, badRows: inserted, loadedByVersion: {} }
        }
        const bad = batch.badRows[0] as BadRow
        log('error', 'database rejected a bad row: stored without its payload', errorCodeOf(error))
        return { loaded: 0, duplicates: 0, badRows: await writeEssentials(bad, reason) }
      }
      return writeParts(splitBatch(batch))
    }
  }

  /** The parts of a batch, one after the other, each isolating as a whole batch does. */
  async function writeParts(parts: Batch[]): Promise<WriteResult> {
    const total = emptyResult()
    for (const part of parts) addResult(total, await writeIsolating(part))
    return total
  }

  /**
   * `batch`, over `maxRows` events in parts (chunkBatch) each retried until it commits: a part
   * that committed is not written again when a later one fails, or its events would count as
   * duplicates of themselves, not as loaded. Null when stopping first (see writeWithRetry);
   * the parts that committed before are counted then, as this process inserted them (the
   * checkpoint stays before the record, and the next start counts them as duplicates).
   */
  async function writeInParts(batch: Batch): Promise<WriteResult | null> {
    if (batch.events.length <= options.maxRows) return writeWithRetry(batch)
    const started = performance.now()
    const total = emptyResult()
    let written = 0
    for (const part of chunkBatch(batch, options.maxRows)) {
      const r = await writeWithRetry(part)
      if (!r) {
        if (written > 0) countCommitted(total, written, performance.now() - started, null)
        return null
      }
      addResult(total, r)
      written += part.events.length
    }
    return total
  }

  /**
   * `writeIsolating`, saying so once if it is still waiting after `slowWriteMs`, given up after
   * `limitMs`.
   */
  async function watchedWrite(batch: Batch, limitMs: number): Promise<WriteResult> {
    const waited = options.slowWriteMs ?? 30_000
    const timer = setTimeout(() => {
      status.lastError = `a database write has waited ${waited / 1000} s: a lock held elsewhere (an open transaction?) or a connection dropped without a reset`
      status.lastErrorAt = new Date().toISOString()
      log('warn', 'database write still waiting', { seconds: waited / 1000, events: batch.events.length })
    }, waited)
    try {
      return await withTimeout(writeIsolating(batch), limitMs)
    } finally {
      clearTimeout(timer)
    }
  }

  /** After a timeout: close the connections (failing what waits on them) and use new ones. */
  function abandonOnTimeout(error: unknown, fields: Record<string, unknown>): void {
    if (!(error instanceof WriteTimeoutError)) return
    log('warn', 'database write timed out: closing the connections and retrying on new ones', { seconds: error.ms / 1000, ...fields })
    status.writeTimeouts++
    timeoutsInARow++
    sink.abandon?.()
  }

  /** Retries until the batch commits or the drain deadline passes (then returns null). */
  async function writeWithRetry(batch: Batch): Promise<WriteResult | null> {
    let conflicts = 0
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await watchedWrite(batch, writeLimit())
        markUp()
        return result
      } catch (error) {
        // Lost to a concurrent transaction: again at once (a few ms of jitter, so two losers
        // do not meet again), the database not called down, unless it keeps happening.
        if (isTransactionConflict(error) && conflicts < MAX_CONFLICT_RETRIES && running && !stopping()) {
          log('debug', 'database write lost to a concurrent transaction: retrying', { attempt: ++conflicts, ...errorCodeOf(error) })
          attempt--
          await sleep(jittered(10 * conflicts), retrying)
          // A stop ends the wait: no new transaction on the pool the shutdown closes next.
          if (!running || stopping()) return null
          continue
        }
        markDown(error)
        abandonOnTimeout(error, { events: batch.events.length, bad_rows: batch.badRows.length })
        if (!running || stopping()) return null
        await sleep(jittered(backoffCeiling(attempt, error, backoff)), retrying)
        if (!running || stopping()) return null
      }
    }
  }

  /**
   * Waits for data, or until a stop wakes it as it wakes the sleepers. Not a Promise.race
   * with a promise the stop resolves: every race left its reactions on that promise, pending
   * for the life of the process, one wait per batch and one a second when idle (the soak,
   * docs/chaos.md: with the checkpoint's below, 14 retained promises a second at 345
   * webhooks/s).
   */
  const waitForDataOrStop = (position: Position): Promise<void> =>
    !running || stopping() ? Promise.resolve() : new Promise<void>((resolve) => {
      const done = () => { sleepers.delete(done); resolve() }
      sleepers.add(done)
      void spool.waitForData(position, 1000).then(done)
    })

  const concurrency = Math.max(1, options.concurrency ?? 2)
  const inflight: InFlight[] = []

  /**
   * The tables are created (when missing) and read at start, not at the first webhook: an
   * operator sees the tables, and a database that cannot be reached or used (a wrong
   * password, missing grants) in /ready and the log at once. Retried like a batch.
   */
  async function prepare(): Promise<void> {
    if (!sink.prepare) return
    for (let attempt = 0; running && !stopping(); attempt++) {
      try {
        await withTimeout(sink.prepare(), writeLimit())
        markUp()
        return
      } catch (error) {
        markDown(error)
        abandonOnTimeout(error, { step: 'preparing the tables' })
        await sleep(jittered(backoffCeiling(attempt, error, backoff)), retrying)
      }
    }
  }

  const receiptAt = spoolReceipts(spool)

  /**
   * When the oldest webhook not yet committed was received: the oldest batch in flight, or,
   * with none (the database down since the start, or between batches), the first record past
   * the checkpoint. Null when nothing waits.
   */
  function oldestUnloadedMs(): number | null {
    if (!spool.pending()) return null
    const flying = Math.min(...inflight.map((b) => b.oldestMs ?? Infinity))
    return Number.isFinite(flying) ? flying : receiptAt(spool.checkpoint())
  }

  async function run(): Promise<void> {
    await prepare()
    let position: Position = spool.checkpoint()
    let failures = 0
    while (running && !stopping()) {
      try {
        position = await step(position)
        failures = 0
      } catch (error) {
        // A spool failure (ENOSPC writing the checkpoint, EIO reading a segment) must not end
        // the writer for the life of the process: back off and try again from the last
        // checkpoint. A batch that committed but whose checkpoint did not is loaded again,
        // which the event_id dedupe makes harmless.
        log('error', 'writer: spool operation failed, retrying', { error: errorMessage(error) })
        inflight.length = 0 // their loads may still finish: harmless, and re-read from the checkpoint
        position = spool.checkpoint()
        const ms = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(failures++, 20))
        await sleep(ms, sleepers)
      }
    }
    await settleAfterStop()
  }

  /**
   * The batches still in flight at a stop: a statement sent still commits (the shutdown closes
   * the pool after the writer), and what it inserted is this process's to count, or
   * collector_events_loaded_total falls short of the table. Their records stay in the spool
   * (the checkpoint moves only in order, and not after the stop): the next start loads them
   * again, as duplicates.
   */
  async function settleAfterStop(): Promise<void> {
    for (const batch of inflight.splice(0)) {
      const result = await batch.result
      if (result) countCommitted(result, batch.batchEvents, performance.now() - batch.started, null)
    }
  }

  /** Checkpoint writes that failed since one last succeeded. */
  let checkpointFailures = 0
  /** The checkpoint write whose outcome is watched already. */
  let watched: Promise<void> | null = null

  /**
   * Not awaited: the spool folds commits that arrive during a checkpoint write into the next
   * one, so the pipeline does not stall on an fsync per batch. A failed write is retried by
   * the spool; until then a crash would replay a few batches, idempotently. On a full disk
   * every batch's commit fails (ENOSPC) while loading goes on: said once, then as a reminder
   * with a count, and when a write succeeds again, not a line per batch.
   */
  function commit(next: Position, events: number): void {
    const checkpoint = spool.commit(next, events)
    // While commits keep coming the spool's checkpoint write takes them in and does not
    // settle: a reaction per batch on it stayed until a lull (about one retained promise per
    // batch, test/sink/writer-idle-wait.test.ts). One per write.
    if (checkpoint === watched) return
    watched = checkpoint
    checkpoint.then(() => {
      if (checkpointFailures === 0) return
      log('info', 'writer: checkpoint written again', { failed_commits: checkpointFailures })
      checkpointFailures = 0
      logRepeated.forget('checkpoint')
    }, (error: unknown) => {
      checkpointFailures++
      logRepeated('checkpoint', 'error', 'writer: checkpoint write failed, retrying', { error: errorMessage(error) })
    })
  }

  /** Waits for the oldest batch in flight and moves the checkpoint past it. */
  async function settleOldest(position: Position): Promise<Position> {
    const oldest = inflight[0] as InFlight
    if (oldest.result === null) {
      inflight.shift()
      commit(oldest.next, 0)
      return position
    }
    const result = await oldest.result
    if (!result) {
      // Stopping before it committed: it, and everything after it, stays in the spool (left
      // in flight, so no checkpoint can pass it; the ones after it are counted when they
      // end, see settleAfterStop).
      return position
    }
    inflight.shift()
    commit(oldest.next, oldest.events)
    const committedAt = Date.now()
    status.batches++
    countCommitted(result, oldest.batchEvents, performance.now() - oldest.started, oldest.oldestMs === null ? null : Math.max(0, committedAt - oldest.oldestMs) / 1000)
    return position
  }

  /** What committed statements inserted, into the status and the metrics (`onCommit`). */
  function countCommitted(result: WriteResult, batchEvents: number, ms: number, delaySeconds: number | null): void {
    status.loadedEvents += result.loaded
    status.duplicateEvents += result.duplicates
    status.badRows += result.badRows
    status.lastCommitAt = new Date().toISOString()
    options.onCommit?.({ ...result, batchEvents, ms, delaySeconds })
  }

  const hasDataAfter = (position: Position) => {
    const end = spool.end()
    return end.segment > position.segment || (end.segment === position.segment && end.offset > position.offset)
  }

  /** One step: settle a finished batch, or read and start the next. Returns the read position. */
  async function step(position: Position): Promise<Position> {
    if (inflight.length >= concurrency || (inflight.length > 0 && !hasDataAfter(position))) return settleOldest(position)
    if (inflight.length === 0) {
      await waitForDataOrStop(position)
      if (!running || stopping()) return position
      if (!hasDataAfter(position)) probeWhenIdle()
      // Let a small batch fill up for a moment; a backlog is read at once.
      if (spool.unreadEvents() < options.maxRows && options.maxWaitMs > 0 && deadline === Infinity) {
        await sleep(options.maxWaitMs, sleepers)
      }
    }
    const { records, next } = spool.read(position, options.maxRows, maxBatchBytes)
    if (records.length === 0) {
      if (next.segment !== position.segment || next.offset !== position.offset) {
        // Skipped over damaged bytes or into the next segment: the move is committed in spool
        // order, after the batches in flight. Left uncommitted, the spool would look pending
        // (a shutdown waited out its whole drain time) and the segment behind it would stay.
        if (inflight.length === 0) await spool.commit(next, 0)
        else inflight.push({ next, events: 0, batchEvents: 0, started: performance.now(), oldestMs: null, result: null })
      }
      return next
    }
    const batch: Batch = { events: [], badRows: [] }
    for (const record of records) decodeRecord(record, batch, options.rebuild)
    inflight.push({
      next,
      events: records.reduce((n, r) => n + r.events, 0),
      batchEvents: batch.events.length,
      started: performance.now(),
      oldestMs: oldestReceivedMs(batch),
      result: writeInParts(batch),
    })
    return next
  }

  return {
    start() {
      if (running) return
      running = true
      loop = run().catch((error) => {
        log('error', 'writer stopped on an unexpected error', { error: errorMessage(error) })
        running = false
      })
    },
    async stop(drainMs) {
      deadline = Date.now() + drainMs
      // Drain: keep going while there is a backlog and time, then stop.
      while (running && !stopping() && spool.pending() && status.database !== 'down') {
        await new Promise((r) => setTimeout(r, 20))
      }
      running = false
      deadline = 0
      for (const wake of [...sleepers, ...retrying]) wake()
      // A transaction in flight on a dead connection could hold this past the drain bound
      // (connect_timeout); the caller closes the pool next, which fails it, and whatever it
      // held stays in the spool (its checkpoint never moved).
      await Promise.race([loop, Bun.sleep(STOP_GRACE_MS)])
    },
    status: () => {
      const oldest = oldestUnloadedMs()
      return { ...status, oldestUnloadedReceivedAt: oldest === null ? null : new Date(oldest).toISOString() }
    },
  }
}
