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

export function readCheckpoint(dir: string): Position {
  try {
    const parsed = JSON.parse(fs.readFileSync(checkpointPath(dir), 'utf8')) as Partial<Position>
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) return parsed as Position
  } catch {
    // Missing or unreadable: start from the oldest segment (replay is idempotent).
  }
  return { segment: 0, offset: 0 }
}

export function writeCheckpoint(dir: string, position: Position): Promise<void> {
  return writeFileAtomic(checkpointPath(dir), JSON.stringify(position))
}

/**
 * Why `checkpoint` cannot be where loading stopped in a spool holding `segments` (sequence ->
 * size), or null. A checkpoint never passes the spool's end, and segments go only once a
 * checkpoint is past them, so its own segment is there and at least `offset` long; when a
 * failed checkpoint write let loaded segments go (spool.ts), none is left before it either.
 * Anything else is a damaged file (one flipped digit, a spool put back from elsewhere), and
 * trusted it had every segment before it deleted at start, unloaded and unreported.
 */
export function checkpointProblem(checkpoint: Position, segments: ReadonlyMap<number, number>): string | null {
  if (checkpoint.segment < 0 || checkpoint.offset < 0) return 'a negative position'
  const size = segments.get(checkpoint.segment)
  if (size !== undefined) return checkpoint.offset > size ? `past the end of its segment (${size} bytes)` : null
  const before = [...segments.keys()].filter((seq) => seq < checkpoint.segment).length
  return before > 0 ? `its segment is not in the spool, but ${before} before it are` : null
}

export const comparePositions = (a: Position, b: Position): number => a.segment - b.segment || a.offset - b.offset
