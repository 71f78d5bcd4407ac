/** Segment files: `DATA_DIR/spool/<20-digit sequence>.seg`, oldest first. */
import fs from 'node:fs'
import path from 'node:path'

const SEGMENT = /^(\d{20})\.seg$/

export const segmentName = (seq: number): string => `${String(seq).padStart(20, '0')}.seg`
export const segmentPath = (dir: string, seq: number): string => path.join(dir, segmentName(seq))

export function listSegments(dir: string): number[] {
  return fs.readdirSync(dir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b)
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size
  } catch {
    return 0
  }
}
