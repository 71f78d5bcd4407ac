/**
 * The checkpoint records the spool position up to which every record has committed to the
 * database. It advances only after commit and is replaced atomically; a crash can at worst
 * leave an older checkpoint, and replaying from it is harmless because loads are idempotent.
 */
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from './fs.ts'

export interface Position { segment: number; offset: number }

export const checkpointPath = (dir: string): string => path.join(dir, 'checkpoint.json')

/**
 * What checkpoint.json holds: the position as written (segment 0 when there is none), whether
 * the file had the checksum this version writes (`sealed`), and why it cannot be trusted, or null.
 */
export interface CheckpointFile { position: Position; sealed: boolean; problem: string | null }

/** CRC-32 over the position's decimal text: a flipped bit in any digit, the crc's too, fails it. */
const positionCrc = (p: Position): number => Bun.hash.crc32(`${p.segment}:${p.offset}`) >>> 0

export const formatCheckpoint = (p: Position): string =>
  JSON.stringify({ segment: p.segment, offset: p.offset, crc: positionCrc(p) })

const NONE: Position = { segment: 0, offset: 0 }

/**
 * A position that still parses, in a file whose bits flipped or whose value was edited, was
 * trusted: the records between it and the true one were skipped (or, mid-record, cut). The crc
 * catches that. A file of exactly `segment` and `offset` is one an earlier version wrote, taken
 * as it is on upgrade; any other set of keys (one flipped in "crc", say) is damage.
 */
export function parseCheckpoint(text: string): CheckpointFile {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return { position: NONE, sealed: false, problem: `not JSON (${(error as Error).message})` }
  }
  const { segment, offset, crc, ...rest } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
  if (!Number.isSafeInteger(segment) || !Number.isSafeInteger(offset)) {
    return { position: NONE, sealed: false, problem: `no integer segment and offset (${text.slice(0, 80)})` }
  }
  const position = { segment, offset } as Position
  const extra = Object.keys(rest)
  if (extra.length > 0) return { position, sealed: false, problem: `unknown fields (${extra.join(', ')})` }
  if (crc === undefined) return { position, sealed: false, problem: null }
  if (crc !== positionCrc(position)) return { position, sealed: true, problem: 'its checksum does not match its position' }
  return { position, sealed: true, problem: null }
}

/** The file, or no checkpoint (segment 0) when there is none or it cannot be read. */
export function readCheckpointFile(dir: string): CheckpointFile {
  let text: string
  try {
    text = fs.readFileSync(checkpointPath(dir), 'utf8')
  } catch {
    // Missing or unreadable: start from the oldest segment (replay is idempotent).
    return { position: NONE, sealed: false, problem: null }
  }
  return parseCheckpoint(text)
}

/** The position as written (segment 0 when none), damaged or not: see `readCheckpointFile`. */
export const readCheckpoint = (dir: string): Position => readCheckpointFile(dir).position

export function writeCheckpoint(dir: string, position: Position): Promise<void> {
  return writeFileAtomic(checkpointPath(dir), formatCheckpoint(position))
}

/**
 * Why `checkpoint` cannot be where loading stopped in a spool holding `segments` (sequence ->
 * size), or null. A checkpoint never passes the spool's end, and segments go only once a
 * checkpoint is past them, so its own segment is there and at least `offset` long, or empty
 * when a failed checkpoint write let loaded segments go (spool.ts); none is left before it either.
 * Anything else is a damaged file (one flipped digit, a spool put back from elsewhere), and
 * trusted it had every segment before it deleted at start, unloaded and unreported.
 */
export function checkpointProblem(checkpoint: Position, segments: ReadonlyMap<number, number>): string | null {
  if (checkpoint.segment < 0 || checkpoint.offset < 0) return 'a negative position'
  const size = segments.get(checkpoint.segment)
  // Empty: loaded, and emptied when a checkpoint write failed on a full disk (spool.ts).
  if (size !== undefined) return checkpoint.offset > size && size > 0 ? `past the end of its segment (${size} bytes)` : null
  const before = [...segments.keys()].filter((seq) => seq < checkpoint.segment).length
  return before > 0 ? `its segment is not in the spool, but ${before} before it are` : null
}

export const comparePositions = (a: Position, b: Position): number => a.segment - b.segment || a.offset - b.offset
