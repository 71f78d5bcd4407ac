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

export const comparePositions = (a: Position, b: Position): number => a.segment - b.segment || a.offset - b.offset
