/** Segment files: `DATA_DIR/spool/<20-digit sequence>.seg`, oldest first. */
import fs from 'node:fs'
import path from 'node:path'

const SEGMENT = /^(\d{20})\.seg$/

const sequence = (seq: number): string => String(seq).padStart(20, '0')
export const segmentName = (seq: number): string => `${sequence(seq)}.seg`
export const segmentPath = (dir: string, seq: number): string => path.join(dir, segmentName(seq))

/**
 * A sealed segment's event count, `<sequence>.events` beside it: `{"events": N, "bytes": B}`,
 * written when the segment is sealed, so a start with a large backlog counts it without
 * reading every record header (10 GiB took ~30 s from a cold cache). Only a hint: used when
 * B is the segment's size, else the segment is read. Written without an fsync; after a crash
 * a missing or stale one means a read.
 */
export const countPath = (dir: string, seq: number): string => path.join(dir, `${sequence(seq)}.events`)
const COUNT = /^(\d{20})\.events$/

export function writeSegmentCount(dir: string, seq: number, events: number, bytes: number): void {
  try {
    fs.writeFileSync(countPath(dir, seq), JSON.stringify({ events, bytes }))
  } catch {
    // A hint: without it the next start reads the segment's headers.
  }
}

/** The segment's event count if its hint file matches `bytes`, else null. */
export function readSegmentCount(dir: string, seq: number, bytes: number): number | null {
  try {
    const hint = JSON.parse(fs.readFileSync(countPath(dir, seq), 'utf8')) as { events?: unknown; bytes?: unknown }
    return hint.bytes === bytes && Number.isSafeInteger(hint.events) && (hint.events as number) >= 0 ? (hint.events as number) : null
  } catch {
    return null
  }
}

/** The sequences of the count files in `dir`, oldest first. */
export function listCounts(dir: string): number[] {
  return sequences(dir, COUNT)
}

const RESTORE = /^(\d{20})\.seg\.restore$/

/**
 * The copy of a deleted active segment that a crash caught before its rename (spool.ts,
 * restoreActive): the records in it were acknowledged and are nowhere else, so it is put where
 * its segment was, before the segments are listed. Left, it was read by nothing, and the next
 * start opened its sequence number afresh as the active segment. A tail torn by the crash (before
 * the copy's fsync) is set aside and reported by the reader, as after any crash. A copy whose
 * segment is there is left as it is: never the outcome of a restore, and not ours to delete.
 * Returns the sequences put back.
 */
export function adoptRestoredSegments(dir: string): number[] {
  const adopted = pendingRestores(dir)
  for (const seq of adopted) fs.renameSync(restorePath(dir, seq), segmentPath(dir, seq))
  return adopted
}

const restorePath = (dir: string, seq: number): string => `${segmentPath(dir, seq)}.restore`

/** The sequences of the copies `adoptRestoredSegments` would put back (their segment missing). */
export function pendingRestores(dir: string): number[] {
  return sequences(dir, RESTORE).filter((seq) => !fs.existsSync(segmentPath(dir, seq)))
}

export function listSegments(dir: string): number[] {
  return sequences(dir, SEGMENT)
}

/** The sequences of the files in `dir` whose names `pattern` matches, oldest first. */
function sequences(dir: string, pattern: RegExp): number[] {
  return fs.readdirSync(dir)
    .map((name) => pattern.exec(name)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
}

/** A pending restore's size, as the segment it becomes. */
export const restoreSize = (dir: string, seq: number): number => fileSize(restorePath(dir, seq))

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}
