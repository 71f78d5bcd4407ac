/**
 * The write-ahead spool: append-only segment files of framed records in DATA_DIR/spool.
 * `append` resolves only once its record is fsync'd; concurrent appends share one fsync
 * (group commit): while one group's fsync runs, the next group gathers. Segments roll at a
 * size bound, the reader (the writer's side) reads oldest-first from the checkpoint, and
 * fully loaded segments are deleted after the checkpoint that covers them is durable.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PRIVATE_DIR_MODE } from '../data-dir-lock.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { checkpointPath, comparePositions, readCheckpointFile, writeCheckpoint, type Position } from './checkpoint.ts'
import { encodeFrameInto, HEADER_BYTES, payloadLength, type Payload } from './frame.ts'
import { fsyncDir, fsyncDirSync, isUnlinked, nodeSpoolIo, readAt, type SpoolIo } from './fs.ts'
import { readRecords, countEvents, type SpoolRecord, type Quarantine } from './reader.ts'
import { adoptRestoredSegments, countPath, segmentPath, writeSegmentCount } from './segments.ts'
import { inspectSpool, readSpoolFiles, reportedAfterStart } from './inspect.ts'
import { writeReported } from './reported.ts'

export type { Position } from './checkpoint.ts'
export type { SpoolRecord } from './reader.ts'

export interface SpoolOptions {
  dir: string
  maxBytes: number
  segmentBytes: number
  onCorrupt?: (info: { segment: number; offset: number; bytes: number; file: string }) => void
  /** A checkpoint file found damaged at start (`checkpointProblem`): the spool replays from its oldest segment. */
  onDamagedCheckpoint?: (info: { checkpoint: Position; problem: string }) => void
  /** The append path's file calls; tests inject failures and count fsyncs here. */
  io?: SpoolIo
  /**
   * Bytes of frames whose `memo` (what the record decodes to, built by the HTTP edge) is kept
   * in memory for the reader, so the writer neither reads nor decodes a record the process
   * appended itself. Default 2 MiB; 0 turns it off. Past the bound new memos are not kept
   * (the reader reaches the ones already held first); the disk stays the truth either way.
   */
  memoMaxBytes?: number
  /**
   * Events of the memos kept, as `memoMaxBytes` bounds their bytes (default 4,000). A memo's
   * memory is its built rows, a few KB per event: a 1 MiB v1 webhook of ~15,000 tiny messages
   * is 1 MiB of record but ~36 MB of rows. A memo that could never be kept (more events or
   * bytes than the bounds) is let go at `append`, not held while its group waits for the fsync.
   */
  memoMaxEvents?: number
  /**
   * Least time between two checkpoint file writes (default 0). Each write is a file fsync, a
   * rename and a directory fsync; a crash only replays what a later checkpoint would have
   * covered (loads are idempotent), so the collector paces them.
   */
  checkpointIntervalMs?: number
  /**
   * Runs before each checkpoint write, which lets loaded segments be deleted: it must make
   * what the database committed durable first, where the database does not do that itself
   * (the embedded PGlite never fsyncs). A failure keeps the checkpoint and the segments.
   */
  beforeCheckpoint?: () => Promise<void>
  /** After a disk error, how often the disk is tried again while no append comes (default 5 s). */
  probeIntervalMs?: number
  /**
   * Bytes of records that may wait in memory for the group commit after the one in progress
   * (default 32 MiB). An fsync that hangs (a dying disk, a stalled network volume) would
   * otherwise hold every request that arrives meanwhile: past the bound they get SPOOL_IO
   * (503, PagerDuty retries) at once.
   */
  maxPendingBytes?: number
  /** After each group commit made durable: its records and bytes, and the seconds its write and fsync took. */
  onGroupCommit?: (group: { records: number; bytes: number; seconds: number }) => void
  /**
   * A group's write and fsync still running after this long (default 10 s) is a hung disk:
   * the spool stops calling itself writable (/ready 503, a load balancer sends elsewhere)
   * until it returns. Nothing else measures it: the sync histogram records only completions.
   */
  stallMs?: number
  /** A write past `stallMs` (once per write), and its end: for the log. */
  onStall?: (event: { state: 'stalled' | 'resumed'; ms: number }) => void
  /**
   * The active segment's file found deleted while open (`restoreActive`), and whether its
   * records were written again under its name (`error` says why not: then /ready is 503).
   */
  onActiveDeleted?: (event: { segment: number; bytes: number; file: string; error?: string }) => void
}

export interface SpoolStats {
  bytes: number
  /** SPOOL_MAX_BYTES: past it, appends are refused (503). */
  maxBytes: number
  segments: number
  backlogEvents: number
  backlogBytes: number
  appendedRecords: number
  appendedEvents: number
  corruptRecords: number
  corruptBytes: number
  lastError: string | null
  /** How long the group commit in progress has been writing and syncing (0: none). */
  writingForMs: number
  /** Bytes taken by appends not yet durable (the group being fsync'd and those waiting): not in `bytes` yet, but in the budget. */
  waitingBytes: number
  writable: boolean
}

/** An append waiting for its group commit; its frame is encoded when the group is written. */
interface Waiter { payload: Payload; length: number; size: number; events: number; memo: unknown; resolve: () => void; reject: (e: unknown) => void }

/** The group buffer is kept between groups up to this size; a larger group gets its own. */
const KEEP_GROUP_BUFFER_BYTES = 1024 * 1024

/** A durable record the process appended, as the reader would return it, with its memo. */
interface Memo { position: Position; next: Position; events: number; memo: unknown; size: number }

const memoKey = (p: Position) => `${p.segment}:${p.offset}`

/** Room for a typical webhook (a v3 delivery is a few KB; PagerDuty's largest, 256 KB, are rare). */
const READY_ROOM_BYTES = 64 * 1024

/** How often a spool whose disk failed tries it again while no webhook arrives (/ready is 503, a load balancer may send none). */
const PROBE_INTERVAL_MS = 5000
const EMPTY = new Uint8Array(0)
/** A deleted active segment is copied back this much at a time (a segment is up to SPOOL_SEGMENT_BYTES). */
const RESTORE_CHUNK_BYTES = 1024 * 1024

/** Tells an observer; its failure (a logger whose stdout is gone) must not touch the spool. */
function report(tell: () => void): void {
  try {
    tell()
  } catch {
    // What it reports stands all the same; /ready and the metrics still show it.
  }
}

export interface Spool {
  /**
   * `payload` as bytes, as text stored UTF-8 encoded, or parts of either one after another.
   * `memo`, if given, is what the record decodes to: `read` hands it over with the record
   * while it is held in memory.
   */
  append(payload: Payload, events: number, memo?: unknown): Promise<void>
  read(from: Position, maxEvents: number, maxBytes: number): { records: SpoolRecord[]; next: Position }
  /**
   * The first record at or after `from`, or null, without taking its memo (`read` still hands
   * it over) and without setting damaged bytes aside (the reader does that when it gets there).
   */
  first(from: Position): SpoolRecord | null
  /**
   * Marks everything before `to` as loaded (at once, in memory) and makes it durable in the
   * checkpoint file; resolves once it is. Concurrent commits share one checkpoint write.
   */
  commit(to: Position, events: number): Promise<void>
  checkpoint(): Position
  end(): Position
  /** Resolves when records exist after `from`, or after `timeoutMs`. */
  waitForData(from: Position, timeoutMs: number): Promise<void>
  /** Events appended but not yet committed. */
  unreadEvents(): number
  /** Whether any record (events or bad rows only) is appended but not yet committed. */
  pending(): boolean
  stats(): SpoolStats
  close(): Promise<void>
}

export function openSpool(options: SpoolOptions): Spool {
  const dir = options.dir
  const io = options.io ?? nodeSpoolIo
  // Space comes back only when a whole segment is deleted, and the active segment is never
  // deleted: with segments as large as the budget, a full spool could never recover. Capping
  // a segment at a quarter of SPOOL_MAX_BYTES means a drained spool holds at most that much.
  const segmentBytes = Math.max(HEADER_BYTES, Math.min(options.segmentBytes, Math.floor(options.maxBytes / 4)))
  const corruptDir = path.join(dir, 'corrupt')
  fs.mkdirSync(corruptDir, { recursive: true, mode: PRIVATE_DIR_MODE })

  // ---- recover the on-disk state -------------------------------------------------------
  const written = readCheckpointFile(dir)
  if (adoptRestoredSegments(dir).length > 0) fsyncDirSync(dir)
  const found = inspectSpool(readSpoolFiles(dir, written))
  if (found.problem !== null) {
    options.onDamagedCheckpoint?.({ checkpoint: written.position, problem: found.problem })
    // Removed now (durable with the directory's fsync below), not left until the first
    // checkpoint write: the segments this start and the next ones open may reach the one it
    // names, and a restart before that write (the database down) took it for a checkpoint and
    // deleted every segment before it.
    fs.rmSync(checkpointPath(dir), { force: true })
  }
  for (const seq of found.loaded) fs.rmSync(segmentPath(dir, seq), { force: true }) // loaded before a crash
  // Deleted once loaded, the count file after it; or its segment removed outside the collector.
  for (const seq of found.orphanCounts) fs.rmSync(countPath(dir, seq), { force: true })
  const sizes = found.sizes
  const activeSeq = found.activeSeq
  let committed = found.resumeAt

  // `events`: what the active segment holds, for its count file when it is sealed. Opened to
  // read as well ('wx+'): should its file be deleted, its records are read back through it.
  let active = { seq: activeSeq, fd: fs.openSync(segmentPath(dir, activeSeq), 'wx+'), durable: 0, events: 0 }
  sizes.set(activeSeq, 0)
  // The new segment's directory entry (and the spool directory's own, on a first start) must
  // be durable before a record in it is acknowledged: a file's fsync alone does not promise it.
  fsyncDirSync(dir)
  fsyncDirSync(path.dirname(dir))
  let activeNeedsRoll = false

  const stats = {
    appendedRecords: 0,
    appendedEvents: 0,
    corruptRecords: 0,
    corruptBytes: 0,
    lastError: null as string | null,
  }
  let backlogEvents = countEvents(dir, committed, sizes)
  let pending: Waiter[] = []
  let pendingBytes = 0
  /** The bytes of the group being written and fsync'd: in no segment's durable size yet. */
  let flightBytes = 0
  let flushing: Promise<void> | null = null
  let closed = false
  // The smallest record refused for space since space last changed (0: none). /ready answers
  // 503 while a record of that size (or of a typical webhook, whichever is smaller) would be
  // refused: not only once not even a header fits, and not for as long as one huge webhook
  // does not fit while ordinary ones still do.
  let refusedSize = 0
  const dataWaiters = new Set<() => void>()
  // Memos of durable records not yet read, in spool order (a Map keeps insertion order).
  const memoMaxBytes = options.memoMaxBytes ?? 2 * 1024 * 1024
  const maxPendingBytes = options.maxPendingBytes ?? 32 * 1024 * 1024
  const memos = new Map<string, Memo>()
  let memoBytes = 0
  const memoMaxEvents = options.memoMaxEvents ?? 4000
  let memoEvents = 0
  const takeMemo = (key: string): Memo | undefined => {
    const m = memos.get(key)
    if (m) { memos.delete(key); memoBytes -= m.size; memoEvents -= m.events }
    return m
  }

  const totalBytes = () => { let n = 0; for (const s of sizes.values()) n += s; return n }
  /**
   * Room under SPOOL_MAX_BYTES, counting the loaded part of the active segment as free: only
   * a roll lets it go (the active segment is never deleted), and a drained spool whose last
   * segment was large (one big group commit) refused, for good, webhooks its budget fits.
   * Until the writer passes the old segment the spool may exceed the budget by that part.
   */
  const loadedActiveBytes = () => (committed.segment === active.seq ? committed.offset : 0)
  const room = (total = totalBytes()) => options.maxBytes - total + loadedActiveBytes()
  const end = (): Position => ({ segment: active.seq, offset: active.durable })

  const quarantine: Quarantine = (segment, offset, bytes) => {
    let file = path.join(corruptDir, `${String(segment).padStart(20, '0')}-${offset}.bin`)
    try {
      fs.writeFileSync(file, bytes)
    } catch (error) {
      // Keeping a copy is for forensics; on a full disk skip the bytes anyway rather than
      // stall every good record behind them.
      file = `(not kept: ${errorMessage(error)})`
    }
    stats.corruptRecords++
    stats.corruptBytes += bytes.length
    options.onCorrupt?.({ segment, offset, bytes: bytes.length, file })
  }

  /** A sealed segment gone from disk: what it held from `offset` on is reported as one damaged record, of no bytes kept. */
  const missing = (segment: number, offset: number) => quarantine(segment, offset, EMPTY)
  // Segments removed outside the collector while it was stopped (src/spool/inspect.ts): their
  // records are lost, and the reader would pass over them without a word.
  for (const lost of found.lost) missing(lost.segment, lost.offset)
  // Told now, not at every start until loading passes them (src/spool/reported.ts). After the
  // report and after the new segment's fsync above: a crash before it reports them again.
  try {
    writeReported(dir, reportedAfterStart(found))
  } catch {
    // Not written (a full disk): the next start reports them again, which is all it costs.
  }

  /**
   * The active segment's file deleted while open (`rm` of the newest spool file, a tmp
   * cleaner, the spool directory removed): appends went on to the unlinked file and were
   * acknowledged, and all of it was gone at the next start. Its first `length` bytes are read
   * back through the open descriptor and written again under its name, so positions, memos
   * and the checkpoint stay as they are. Checked after each group's fsync (an fstat, ~3 us),
   * by the watchdog while none comes, before a roll and at close.
   */
  let restoreFailing = false
  async function restoreActive(length: number): Promise<void> {
    const file = segmentPath(dir, active.seq)
    const tmp = `${file}.restore`
    try {
      fs.mkdirSync(corruptDir, { recursive: true, mode: PRIVATE_DIR_MODE }) // the whole directory may have gone
      const fd = fs.openSync(tmp, 'w+')
      try {
        for (let at = 0; at < length; at += RESTORE_CHUNK_BYTES) {
          const chunk = readAt(active.fd, at, Math.min(RESTORE_CHUNK_BYTES, length - at))
          if (chunk.length === 0) throw Object.assign(new Error(`the deleted segment ends at ${at} bytes, not ${length}`), { code: 'EIO' })
          io.write(fd, chunk, at)
        }
        await io.fsync(fd)
        await fs.promises.rename(tmp, file)
        await fsyncDir(dir)
        await fsyncDir(path.dirname(dir))
        // Gone again during those waits: not written again, whatever the log would say.
        if (isUnlinked(fd)) throw Object.assign(new Error('it was deleted again while it was written again'), { code: 'EIO' })
      } catch (error) {
        fs.closeSync(fd)
        fs.rmSync(tmp, { force: true })
        throw error
      }
      try { fs.closeSync(active.fd) } catch { /* the copy is what counts now */ }
      active.fd = fd
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
      stats.lastError = `spool ${code}: the active segment was deleted and cannot be written again: ${errorMessage(error)}`
      // Told once, not at each look a second; /ready stays 503 until a try succeeds.
      if (!restoreFailing) report(() => options.onActiveDeleted?.({ segment: active.seq, bytes: length, file, error: stats.lastError ?? undefined }))
      restoreFailing = true
      throw error
    }
    if (restoreFailing) stats.lastError = null
    restoreFailing = false
    report(() => options.onActiveDeleted?.({ segment: active.seq, bytes: length, file }))
  }

  /**
   * Until the active segment's file is found in place: each copy waits for its fsyncs, and the
   * file can go again meanwhile. Bounded, for something that deletes it as fast as it comes.
   */
  async function restoreWhileUnlinked(length = active.durable): Promise<void> {
    for (let tries = 1; isUnlinked(active.fd); tries++) {
      await restoreActive(length).catch((error: unknown) => { if (tries >= 3) throw error })
    }
  }

  /** The watchdog's look while no group commits: acknowledged records in a deleted active segment are written again within a second. */
  function restoreWhenIdle(): void {
    if (flushing || closed || !isUnlinked(active.fd)) return
    // Appends meanwhile wait behind it; a failure is tried again at the next look or group.
    flushing = restoreActive(active.durable).catch(() => {}).then(() => flushLoop())
  }

  async function roll(): Promise<void> {
    const next = active.seq + 1
    const file = segmentPath(dir, next)
    const fd = fs.openSync(file, 'wx+')
    try {
      await fsyncDir(dir)
      // Sealed as it is, a deleted active segment's records were gone for good. Looked at
      // after the wait above, with none between the last look and the seal: looked at only
      // before it, a deletion during the directory's fsync was sealed.
      await restoreWhileUnlinked()
    } catch (error) {
      // Undo, or every later roll would fail on EEXIST and the spool would stay unwritable.
      fs.closeSync(fd)
      fs.rmSync(file, { force: true })
      throw error
    }
    try { fs.closeSync(active.fd) } catch { /* already unusable */ }
    sizes.set(active.seq, active.durable)
    writeSegmentCount(dir, active.seq, active.events, active.durable)
    active = { seq: next, fd, durable: 0, events: 0 }
    sizes.set(next, 0)
    activeNeedsRoll = false
    // A reader at the end of the old segment can move on now (and let it be deleted).
    for (const wake of dataWaiters) wake()
    dataWaiters.clear()
  }

  // One buffer for a whole group commit, reused by the next group once written (the flush
  // loop writes one group at a time, and the write is synchronous).
  let kept = Buffer.allocUnsafe(64 * 1024)
  function groupBuffer(bytes: number): Buffer {
    if (bytes > kept.length) {
      if (bytes > KEEP_GROUP_BUFFER_BYTES) return Buffer.allocUnsafe(bytes)
      kept = Buffer.allocUnsafe(Math.min(KEEP_GROUP_BUFFER_BYTES, 2 ** Math.ceil(Math.log2(bytes))))
    }
    return kept.subarray(0, bytes)
  }

  // After a failed write or fsync, /ready is 503 until an append succeeds; a load balancer
  // that routes by /ready then sends none. So the disk is tried on its own every few seconds
  // (a small file written and fsync'd); when that works, the error is cleared (the next
  // append still goes to a fresh segment).
  let probeTimer: ReturnType<typeof setTimeout> | null = null
  function scheduleProbe(): void {
    if (probeTimer || closed) return
    probeTimer = setTimeout(async () => {
      probeTimer = null
      if (closed || stats.lastError === null) return
      const file = path.join(dir, 'probe.tmp')
      try {
        const handle = await fs.promises.open(file, 'w')
        try {
          await handle.write(Buffer.from('probe'))
          await handle.sync()
        } finally {
          await handle.close()
        }
        await fs.promises.rm(file, { force: true })
        stats.lastError = null
      } catch {
        rollWhenIdle() // on a full disk, only a roll of the loaded segment can free space
        scheduleProbe()
      }
    }, options.probeIntervalMs ?? PROBE_INTERVAL_MS)
  }

  // The group commit in progress: since when it writes and syncs, and whether it was
  // reported as stalled. A watchdog looks once a second (a timer per group would cost more
  // than the check at hundreds of groups a second).
  const stallMs = options.stallMs ?? 10_000
  let writingSince: number | null = null
  let stallReported = false
  const writingFor = () => (writingSince === null ? 0 : Date.now() - writingSince)
  /** Tells the observer; its failure (a logger whose stdout is gone) must not touch the spool. */
  const reportStall = (state: 'stalled' | 'resumed') => report(() => options.onStall?.({ state, ms: writingFor() }))
  function writeEnded(): void {
    if (stallReported) reportStall('resumed')
    writingSince = null
    stallReported = false
  }
  const watchdog = setInterval(() => {
    restoreWhenIdle()
    if (stallReported || writingFor() < stallMs) return
    stallReported = true
    reportStall('stalled')
  }, Math.min(1000, stallMs))
  watchdog.unref?.()

  async function flushGroup(group: Waiter[]): Promise<void> {
    let total = 0
    let events = 0
    for (const w of group) { total += w.size; events += w.events }
    const frames = groupBuffer(total)
    let at = 0
    try {
      for (const w of group) at += encodeFrameInto(frames, at, w.payload, w.length, w.events)
    } catch (error) {
      flightBytes = 0
      for (const w of group) w.reject(error)
      return
    }
    let started = 0
    try {
      // Watched from before the roll: its directory fsync can hang as well.
      writingSince = Date.now()
      if (activeNeedsRoll || (active.durable > 0 && active.durable + frames.length > segmentBytes)) await roll()
      started = performance.now()
      try {
        io.write(active.fd, frames, active.durable)
      } catch (error) {
        // The next group goes to a fresh segment: on a disk that filled inside this one, its
        // space comes back only when it is deleted once loaded, and the active segment never
        // is (it stayed full, 503, after every event had loaded). Not from an empty one:
        // that would free nothing and leave a new file per failure.
        if (active.durable > 0) activeNeedsRoll = true
        // Take back a partial write so the segment stays a clean sequence of records.
        await io.ftruncate(active.fd, active.durable).catch(() => { activeNeedsRoll = true })
        throw error
      }
      try {
        await io.fsync(active.fd)
      } catch (error) {
        // After a failed fsync the page cache is no longer trustworthy (fsyncgate):
        // never append behind it; later appends go to a fresh segment. The bytes written
        // past `durable` are records that get a 503: cut them off now (best effort, the
        // disk is failing) so a restart does not load what PagerDuty will send again (its
        // bad rows have no id to dedupe them by).
        activeNeedsRoll = true
        await io.ftruncate(active.fd, active.durable).then(() => io.fsync(active.fd)).catch(() => {})
        throw error
      }
      // Not acknowledged while its file is deleted: the group would be lost at the next start.
      await restoreWhileUnlinked(active.durable + frames.length)
    } catch (error) {
      writeEnded()
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO'
      stats.lastError = `spool ${code}: ${errorMessage(error)}`
      scheduleProbe()
      const failure = new CollectorError('SPOOL_IO', `cannot make the event durable: ${code}`, true, { cause: error })
      flightBytes = 0
      for (const w of group) w.reject(failure)
      return
    }
    writeEnded()
    const seconds = (performance.now() - started) / 1000
    let offset = active.durable
    for (const w of group) {
      if (w.memo !== undefined && memoBytes + w.size <= memoMaxBytes && memoEvents + w.events <= memoMaxEvents) {
        const position = { segment: active.seq, offset }
        memos.set(memoKey(position), { position, next: { segment: active.seq, offset: offset + w.size }, events: w.events, memo: w.memo, size: w.size })
        memoBytes += w.size
        memoEvents += w.events
      }
      offset += w.size
    }
    active.durable += frames.length
    active.events += events
    sizes.set(active.seq, active.durable)
    flightBytes = 0 // now in the segment's durable size (before the waiters run: they may append)
    stats.appendedRecords += group.length
    stats.appendedEvents += events
    backlogEvents += events
    stats.lastError = null
    // The smallest refused record would be taken now (append's test, behind what waits):
    // forget it. Not merely because this group fitted: a short bad row squeezed into a full
    // spool, a record taken before the refusal, or one that used up room a failed group gave
    // back says nothing for the webhooks refused.
    if (flightBytes + pendingBytes + refusedSize <= room()) refusedSize = 0
    if (probeTimer) { clearTimeout(probeTimer); probeTimer = null }
    for (const w of group) w.resolve()
    for (const wake of dataWaiters) wake()
    dataWaiters.clear()
    try {
      options.onGroupCommit?.({ records: group.length, bytes: frames.length, seconds })
    } catch {
      // An observer's failure must not touch the spool: the group is durable and answered.
    }
  }

  /**
   * The active segment failed a write and all of it has loaded: roll it now. No append may
   * come to carry the roll (with /ready at 503 a load balancer sends none), and only a roll
   * lets its space go.
   */
  const idleRollDue = () => activeNeedsRoll && active.durable > 0 && !closed && comparePositions(committed, end()) >= 0

  async function flushLoop(): Promise<void> {
    for (;;) {
      while (pending.length > 0) {
        const group = pending
        pending = []
        flightBytes = group.reduce((n, w) => n + w.size, 0)
        pendingBytes -= flightBytes
        try {
          await flushGroup(group)
        } finally {
          flightBytes = 0 // flushGroup clears it before it settles the waiters; this for a throw
        }
      }
      if (!idleRollDue()) break
      // Still full, say: the next commit, append or disk probe tries again.
      if (!(await roll().then(() => true, () => false))) break
    }
    flushing = null
  }

  /** The flush loop with nothing to write, for its roll (appends meanwhile wait behind it). */
  function rollWhenIdle(): void {
    if (!flushing && idleRollDue()) flushing = flushLoop()
  }

  // The checkpoint file trails the in-memory `committed` by at most one write: commits that
  // arrive while a write runs are folded into the next one, so the writer never waits for a
  // checkpoint fsync per batch (it did: ~4.7 ms per commit, a third of the drain time with
  // 1 MiB batches). A crash can only leave an older checkpoint, and replaying from it is
  // harmless (loads are idempotent by event_id).
  let durable = committed
  let checkpointing: Promise<void> | null = null
  let retryTimer: ReturnType<typeof setTimeout> | null = null
  const checkpointInterval = options.checkpointIntervalMs ?? 0
  let lastCheckpointAt = -Infinity

  // The position up to which the loaded data is known durable in the database (the
  // `beforeCheckpoint` hook succeeded for it): only segments before it may ever go.
  let synced: Position = committed

  async function persistCheckpoint(): Promise<void> {
    try {
      while (comparePositions(committed, durable) > 0) {
        // Commits that arrive while this waits are folded into the write after it.
        const wait = lastCheckpointAt + checkpointInterval - performance.now()
        if (wait > 0 && !closed) await Bun.sleep(wait)
        const target = committed
        await options.beforeCheckpoint?.()
        synced = target
        await writeCheckpoint(dir, target)
        lastCheckpointAt = performance.now()
        durable = target
        // Segments go once a durable checkpoint is past them.
        await removeSegmentsBefore(durable.segment)
      }
    } catch (error) {
      // ENOSPC or EIO writing the checkpoint. On a disk the spool itself filled, the
      // checkpoint's temp file has no block to go to, and only freeing segments would give
      // it one: the segments wholly before the in-memory position are loaded, so they are
      // emptied now (a truncate frees their blocks as an unlink does, on a full disk too).
      // Their names stay until a checkpoint write succeeds: a restart from the older
      // checkpoint file passes over them, and a checkpoint whose segment is gone is one
      // removed outside the collector (see recovery above), never this. Only as far as the
      // database is known durable (the hook may be what failed).
      await emptySegmentsBefore(synced.segment).catch(() => {})
      // Try again shortly even if no batch commits meanwhile, and tell the caller.
      retryTimer ??= setTimeout(() => { retryTimer = null; startCheckpoint().catch(() => {}) }, 1000)
      throw error
    }
  }

  /** Deletes the segments before `segment` (never the active one): their records are loaded. */
  async function removeSegmentsBefore(segment: number): Promise<void> {
    for (const seq of [...sizes.keys()]) {
      if (seq < segment && seq !== active.seq) {
        // Async: unlinking a 64 MiB segment can hold the event loop for milliseconds.
        await fs.promises.rm(segmentPath(dir, seq), { force: true })
        await fs.promises.rm(countPath(dir, seq), { force: true })
        sizes.delete(seq)
        refusedSize = 0
      }
    }
  }

  /** Empties the segments before `segment` (never the active one), oldest first, and their count files go: their records are loaded. */
  async function emptySegmentsBefore(segment: number): Promise<void> {
    for (const [seq, size] of [...sizes].sort((a, b) => a[0] - b[0])) {
      if (seq < segment && seq !== active.seq && size > 0) {
        // One removed by hand meanwhile frees its blocks all the same: on to the next.
        await fs.promises.truncate(segmentPath(dir, seq), 0).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'ENOENT') throw error })
        await fs.promises.rm(countPath(dir, seq), { force: true })
        sizes.set(seq, 0)
        refusedSize = 0
      }
    }
  }

  function startCheckpoint(): Promise<void> {
    checkpointing ??= persistCheckpoint().finally(() => { checkpointing = null })
    return checkpointing
  }

  return {
    append(payload, events, memo) {
      if (closed) return Promise.reject(new CollectorError('SPOOL_CLOSED', 'the collector is shutting down', true))
      const length = payloadLength(payload)
      const size = HEADER_BYTES + length
      if (pendingBytes + size > maxPendingBytes && pending.length > 0) {
        return Promise.reject(new CollectorError('SPOOL_IO', `the disk is not keeping up: ${pendingBytes} bytes already wait for the fsync in progress`, true))
      }
      const total = totalBytes()
      // The group in flight counts: without it, appends taken during its fsync passed the budget.
      if (flightBytes + pendingBytes + size > room(total)) {
        refusedSize = refusedSize === 0 ? size : Math.min(refusedSize, size)
        return Promise.reject(new CollectorError('SPOOL_FULL', `the spool is full (SPOOL_MAX_BYTES=${options.maxBytes})`, true))
      }
      // It fits only once the active segment's loaded part is gone: start the next segment.
      if (total + flightBytes + pendingBytes + size > options.maxBytes) activeNeedsRoll = true
      return new Promise<void>((resolve, reject) => {
        const keepable = size <= memoMaxBytes && events <= memoMaxEvents
        pending.push({ payload, length, size, events, memo: keepable ? memo : undefined, resolve, reject })
        pendingBytes += size
        flushing ??= flushLoop()
      })
    },

    read(from, maxEvents, maxBytes) {
      // The records the process appended itself come from memory, as long as they follow on.
      const records: SpoolRecord[] = []
      let pos = from
      let events = 0
      let bytes = 0
      for (let m = takeMemo(memoKey(pos)); m; ) {
        records.push({ position: m.position, next: m.next, events: m.events, payload: EMPTY, memo: m.memo })
        events += m.events
        bytes += m.size
        pos = m.next
        if (events >= maxEvents || bytes >= maxBytes) break
        m = takeMemo(memoKey(pos))
      }
      if (records.length > 0) return { records, next: pos }
      const read = readRecords({ dir, from, maxEvents, maxBytes, sizes, active: end(), quarantine, missing })
      if (memos.size > 0) {
        for (const r of read.records) {
          const m = takeMemo(memoKey(r.position))
          if (m) r.memo = m.memo
        }
      }
      return read
    },

    first(from) {
      const m = memos.get(memoKey(from))
      if (m) return { position: m.position, next: m.next, events: m.events, payload: EMPTY, memo: m.memo }
      return readRecords({ dir, from, maxEvents: 1, maxBytes: 1, sizes, active: end(), quarantine: () => {}, missing: () => {} }).records[0] ?? null
    },

    commit(to, events) {
      if (comparePositions(to, committed) <= 0) return checkpointing ?? Promise.resolve()
      committed = to
      // Caught up, nothing waits, whatever the count said: at start it counts a damaged
      // record whose header is intact, which the reader then sets aside and commits as none.
      const caughtUp = comparePositions(committed, end()) >= 0
      backlogEvents = caughtUp ? 0 : Math.max(0, backlogEvents - events)
      if (caughtUp) rollWhenIdle()
      // Memos the reader skipped (it went back to the checkpoint after a failure) are stale.
      for (const [key, m] of memos) {
        if (comparePositions(m.position, to) >= 0) break
        takeMemo(key)
      }
      return startCheckpoint()
    },

    checkpoint: () => committed,
    end,

    waitForData(from, timeoutMs) {
      if (comparePositions(end(), from) > 0 || closed) return Promise.resolve()
      return new Promise((resolve) => {
        const wake = () => { clearTimeout(timer); dataWaiters.delete(wake); resolve() }
        const timer = setTimeout(wake, timeoutMs)
        dataWaiters.add(wake)
      })
    },

    unreadEvents: () => backlogEvents,
    pending: () => comparePositions(committed, end()) < 0,

    stats() {
      let backlogBytes = 0
      for (const [seq, size] of sizes) {
        if (seq > committed.segment) backlogBytes += size
        else if (seq === committed.segment) backlogBytes += Math.max(0, size - committed.offset)
      }
      return {
        bytes: totalBytes(),
        maxBytes: options.maxBytes,
        segments: sizes.size,
        backlogEvents,
        backlogBytes,
        ...stats,
        writingForMs: writingFor(),
        waitingBytes: flightBytes + pendingBytes,
        // The room an append would find now: the group being fsync'd and the records waiting
        // for the next one hold theirs already (append's own test).
        writable: !closed && stats.lastError === null && writingFor() < stallMs &&
          room() - flightBytes - pendingBytes >= (refusedSize === 0 ? HEADER_BYTES + 1 : Math.min(refusedSize, READY_ROOM_BYTES)),
      }
    },

    async close() {
      closed = true
      while (flushing) await flushing
      clearInterval(watchdog)
      memos.clear()
      memoBytes = 0
      memoEvents = 0
      if (retryTimer) clearTimeout(retryTimer)
      if (probeTimer) clearTimeout(probeTimer)
      await checkpointing?.catch(() => {})
      for (const wake of dataWaiters) wake()
      // Deleted since the watchdog last looked: its records go with the descriptor.
      if (active.durable > 0) await restoreWhileUnlinked().catch(() => {})
      try { fs.closeSync(active.fd) } catch { /* ignore */ }
      // The next start seals this segment (it opens a new one): counted now, not read then.
      if (active.durable > 0) writeSegmentCount(dir, active.seq, active.events, active.durable)
    },
  }
}
