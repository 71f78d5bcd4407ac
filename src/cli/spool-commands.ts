/**
 * `collector spool status`: the backlog on disk, read without touching it (safe while the
 * collector runs). `collector spool replay FILE.ndjson`: recorded webhooks (one raw body per
 * line) through the same adapter -> spool -> writer path, into the configured database.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { checkpointProblem, readCheckpointFile, type CheckpointFile, type Position } from '../spool/checkpoint.ts'
import { inspectSpool, readSpoolFiles, type SpoolFindings } from '../spool/inspect.ts'
import { countEvents, readRecords } from '../spool/reader.ts'
import { fileSize, listSegments, segmentPath } from '../spool/segments.ts'
import { createRegistry } from '../adapters/registry.ts'
import { createPagerDutyAdapter } from '../adapters/pagerduty/index.ts'
import type { Adapter } from '../adapters/types.ts'
import type { BadRow, BuiltEvent, RequestContext } from '../events/event.ts'
import { parseBody } from '../http/body.ts'
import { badRow } from '../events/bad-row.ts'
import { keptBody, type KeptBody } from '../events/raw-body.ts'
import { uuidV5 } from '../events/event-id.ts'
import { recordReceivedMs } from '../sink/records.ts'
import { progress, withPrivateLoad } from './private-load.ts'
import { createLog } from '../log.ts'
import { VERSION } from '../version.ts'
import { errorMessage } from '../errors.ts'

/**
 * A DATA_DIR without a spool is not taken for an empty backlog: run from the wrong directory
 * (the unit sets DATA_DIR, a shell does not), "nothing waiting" would invite deleting the
 * real one. Exit 1, saying where it looked; likewise when it may not look (no sudo). A
 * collector's DATA_DIR (its lock file there) that never served has nothing waiting.
 */
export function spoolStatus(config: Config): number {
  const dataDir = path.resolve(config.dataDir)
  const dir = path.join(dataDir, 'spool')
  const fail = (why: string) => {
    process.stderr.write(`collector: ${why}. Set DATA_DIR to the collector's (under systemd: sudo DATA_DIR=/var/lib/collector collector spool status)\n`)
    return 1
  }
  try {
    fs.statSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') return fail(`cannot read ${dir} (${code ?? errorMessage(error)})`)
    if (fs.existsSync(path.join(dataDir, 'collector.lock'))) {
      process.stdout.write(`no spool in ${dir} yet (the collector has not served from this DATA_DIR): nothing waiting\n`)
      return 0
    }
    return fail(`no spool in ${dir}: DATA_DIR (${dataDir}) is not where a collector ran`)
  }
  // The collector deletes loaded segments as it goes: one gone between the listing and the
  // read means the checkpoint moved, so look again.
  for (let attempt = 1; ; attempt++) {
    try {
      return printStatus(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 5) throw error
    }
  }
}

function printStatus(dir: string): number {
  const file = readCheckpointFile(dir)
  const written = file.position
  const all = new Map(listSegments(dir).map((s) => [s, fileSize(segmentPath(dir, s))]))
  // A damaged checkpoint is not trusted here either: the collector replays from the oldest segment.
  const damaged = file.problem ?? checkpointProblem(written, all)
  const gone = recordsGone(dir, file)
  const checkpoint = damaged === null ? written : { segment: 0, offset: 0 }
  const sizes = new Map([...all].filter(([s]) => s >= checkpoint.segment))
  let backlogBytes = 0
  for (const [seq, size] of sizes) backlogBytes += seq === checkpoint.segment ? Math.max(0, size - checkpoint.offset) : size
  const corrupt = fs.existsSync(path.join(dir, 'corrupt')) ? fs.readdirSync(path.join(dir, 'corrupt')).length : 0
  const oldest = oldestWaiting(dir, checkpoint, sizes)
  const rows: [string, string][] = [
    ['spool', dir],
    ['segments', String(sizes.size)],
    ['backlog events', String(countEvents(dir, checkpoint, sizes))],
    ['backlog bytes', String(backlogBytes)],
    ['oldest waiting received', oldest === null ? 'none waiting' : Number.isNaN(oldest) ? 'not recorded in the records waiting' : `${new Date(oldest).toISOString()} (${ago(Date.now() - oldest)} ago)`],
    // Segments are numbered from 1: segment 0 is readCheckpoint's answer when none was written.
    ['checkpoint', damaged !== null ? `damaged (segment ${written.segment} offset ${written.offset}: ${damaged}); the collector replays from the oldest segment` : checkpoint.segment === 0 ? 'none written yet (nothing loaded since this spool began)' : `segment ${checkpoint.segment} offset ${checkpoint.offset}`],
    ['corrupt records set aside', String(corrupt)],
    ['records gone', goneRow(gone)],
  ]
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(26)} ${v}\n`)
  return 0
}

/**
 * What a start would report as `spool records gone` (src/spool/inspect.ts): segment files
 * removed outside the collector. Taken from one listing between two reads of the same
 * checkpoint: a running collector deletes segments once the checkpoint past them is written,
 * and a listing made across that move could take a loaded segment for one removed. Null
 * when the checkpoint kept moving.
 */
function recordsGone(dir: string, first: CheckpointFile): Pick<SpoolFindings, 'lost' | 'lostReported'> | null {
  let checkpoint = first
  for (let attempt = 0; attempt < 10; attempt++) {
    const found = inspectSpool(readSpoolFiles(dir, checkpoint))
    const again = readCheckpointFile(dir)
    if (JSON.stringify(again) === JSON.stringify(checkpoint)) return found
    checkpoint = again
  }
  return null
}

const named = (gone: Position[]): string =>
  gone.map((p) => p.offset === 0 ? `segment ${p.segment}` : `segment ${p.segment} from offset ${p.offset}`).join(', ')

/** The `records gone` row: those the next start reports, then those a start reported already (records-gone.json), as `serve` tells them apart. */
function goneRow(gone: Pick<SpoolFindings, 'lost' | 'lostReported'> | null): string {
  if (gone === null) return 'not known: the collector is loading (its checkpoint moved each time this looked); it reports any at its start'
  const parts = [
    gone.lost.length > 0 ? `${named(gone.lost)}: removed outside the collector; the webhooks in them that had not loaded are lost (the collector logs "spool records gone" at its start and counts them in collector_spool_corrupt_records_total)` : '',
    gone.lostReported.length > 0 ? `${named(gone.lostReported)}: removed outside the collector; the webhooks in them that had not loaded are lost (reported already, "spool records gone" at an earlier start: not again)` : '',
  ]
  return parts.filter((part) => part !== '').join('; ') || 'none'
}

/**
 * When the first webhook past the checkpoint was received: about when the tables stop (a
 * webhook's receipt is taken as its request begins, its place in the spool when its body is
 * durable, so a slow upload can follow one received after it). Null when nothing waits, NaN
 * when no record waiting says. Read-only: damaged bytes are skipped here and left for the
 * collector.
 */
function oldestWaiting(dir: string, checkpoint: Position, sizes: Map<number, number>): number | null {
  const last = Math.max(checkpoint.segment, ...sizes.keys())
  const active = { segment: last, offset: sizes.get(last) ?? 0 }
  for (let from = checkpoint; ;) {
    const { records, next } = readRecords({ dir, from, maxEvents: 1, maxBytes: 1, sizes, active, quarantine: () => {} })
    const record = records[0]
    if (!record) return from === checkpoint ? null : NaN
    const ms = recordReceivedMs(record)
    // A record that does not say (it would not decode) is passed over for the next one.
    if (ms !== null) return ms
    from = next
  }
}

/** `2d 4h`, `3h 0m`, `5m 2s`, `40s`: the largest unit and the next. */
export function ago(ms: number): string {
  const units: [string, number][] = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]]
  const seconds = Math.max(0, Math.floor(ms / 1000))
  const first = units.findIndex(([, size]) => seconds >= size)
  if (first === -1) return '0s'
  const [unit, size] = units[first] as [string, number]
  const next = units[first + 1]
  return next ? `${Math.floor(seconds / size)}${unit} ${Math.floor((seconds % size) / next[1])}${next[0]}` : `${seconds}${unit}`
}

/**
 * A line longer than MAX_BODY_BYTES, as the HTTP edge keeps a body it answers 413: its first
 * MAX_BODY_BYTES, a URL the cut ends in redacted. Else null. Over HTTP such a body never
 * reaches the adapter; a replay is meant to take the same path, and bad_rows.payload is
 * documented as capped at MAX_BODY_BYTES.
 */
export function oversizePayload(line: string, maxBodyBytes: number): KeptBody | null {
  const bytes = Buffer.from(line)
  return bytes.length > maxBodyBytes ? keptBody(bytes.subarray(0, maxBodyBytes), { cut: true, maxInflatedBytes: 0 }) : null
}

/** What one line of a replayed file makes, and why the line itself was refused (null: it was taken). */
export interface ReplayedLine {
  events: BuiltEvent[]
  badRows: BadRow[]
  /** What went to bad rows, in messages as over HTTP (a refused line is one): past 100 failed messages they share one row. */
  badMessages: number
  refused: string | null
}

/** One line through the path a webhook body takes over HTTP: the size limit, the parse, the adapter. */
export function replayLine(line: string, ctx: RequestContext, adapter: Adapter | undefined, maxBodyBytes: number): ReplayedLine {
  const oversize = oversizePayload(line, maxBodyBytes)
  if (oversize !== null) {
    return { events: [], badRows: [badRow(ctx, 'request', 'PAYLOAD_TOO_LARGE', [{ path: '', message: `body is larger than MAX_BODY_BYTES (${maxBodyBytes} bytes)` }], null, oversize.payload, oversize.encoding)], badMessages: 1, refused: 'PAYLOAD_TOO_LARGE' }
  }
  const body = parseBody(Buffer.from(line))
  const result = body.ok && adapter ? adapter.toEvents({ body: body.json, rawBody: body.text, ctx }) : null
  if (result?.ok) return { events: result.events, badRows: result.badRows, badMessages: result.badMessages ?? result.badRows.length, refused: null }
  // As over HTTP: a request that cannot load keeps its raw body in bad rows.
  const [code, message, issues] = !body.ok ? [body.code, body.message, []] : result && !result.ok ? [result.code, result.message, result.issues] : ['NO_ADAPTER', 'no adapter', []]
  // As bytes: a line holding a NUL is kept as base64, as over HTTP.
  const kept = keptBody(Buffer.from(line), { maxInflatedBytes: 0 })
  return { events: [], badRows: [badRow(ctx, 'request', code, [{ path: '', message }, ...issues], null, kept.payload, kept.encoding)], badMessages: 1, refused: code }
}

export async function replayFile(config: Config, file: string, query: Record<string, string> = {}): Promise<number> {
  const log = createLog(config.logLevel)
  // Numbered as in the file (blank lines skipped, still counted), so a rejected line is findable.
  const lines = fs.readFileSync(file, 'utf8').split('\n').map((text, i) => ({ text, number: i + 1 })).filter((l) => l.text.trim() !== '')
  let accepted = 0
  let bad = 0
  return withPrivateLoad(config, log, 'replay', 'the replay stops here; run it again once the database is reachable', async (load) => {
    const adapter = createRegistry([createPagerDutyAdapter(VERSION)]).lookup('com.pagerduty', 'v1')
    for (const [index, { text: line, number }] of lines.entries()) {
      const ctx = { receivedAt: new Date(), query, ipAddress: null, userAgent: 'collector-replay', webhookId: null, requestId: uuidV5(`replay/${line}`) } // replaying a file twice stores its bad rows once
      const made = replayLine(line, ctx, adapter, config.maxBodyBytes)
      await load.append(made.events, made.badRows)
      accepted += made.events.length
      bad += made.badMessages
      if (made.refused !== null) log('warn', 'replay line rejected', { line: number, reason: made.refused })
      // Counted in the summary's "bad" like a rejected line, so named by its line the same way:
      // a message of an unknown type or shape would otherwise be found only in bad_rows.
      else if (made.badRows.length > 0) log('warn', 'replay line has messages sent to bad rows', { line: number, messages: made.badMessages, reasons: [...new Set(made.badRows.map((b) => b.reason))] })
      progress(index + 1, lines.length)
    }
    const { left, loaded, status: w } = await load.finish()
    const what = left > 0 ? `${left} NOT loaded` : 'bad rows NOT loaded'
    const notLoaded = loaded ? '' : `, ${what} (${w.lastError}): run the same replay again once the database is reachable; what did load is not loaded twice`
    process.stdout.write(`replayed ${lines.length} lines: ${accepted} events (${w.loadedEvents} new, ${w.duplicateEvents} already loaded), ${bad} bad${notLoaded}\n`)
    return loaded ? 0 : 1
  })
}
