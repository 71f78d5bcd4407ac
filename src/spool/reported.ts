/**
 * `spool/records-gone.json`: the records gone (src/spool/inspect.ts) a start has already
 * reported. A gap in the segments stays in the spool until loading passes the segment before
 * it, so with the database down across restarts each start logged it and counted it again
 * (and fired the alert again) for one loss. A start reports what is not in the file, then
 * writes the file (atomically, fsync'd) with those and the ones in it that loading has not
 * passed (none: the file goes): a crash before the write reports again, never hides one. The
 * file is only ever a reason to stay quiet, so whatever cannot be trusted in it (damage, an
 * earlier binary's renumbering) makes it count for nothing. Earlier binaries ignore it (they
 * list only `.seg`, `.events` and `.seg.restore` names).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Position } from './checkpoint.ts'
import { fsyncDirSync, writeFileAtomicSync } from './fs.ts'

export const reportedPath = (dir: string): string => path.join(dir, 'records-gone.json')

/**
 * The losses a start reported, and the segment that start opened. Segment numbers only go up
 * while a segment at or past `opened` is left (or the checkpoint is past it); without one (the
 * newest files removed as well, an earlier binary starting over under old numbers) a number
 * here may name another segment now, and the file is not trusted.
 */
export interface ReportedGone { gone: Position[]; opened: number }

const crcOf = (r: ReportedGone): number => Bun.hash.crc32(JSON.stringify([r.gone.map((p) => [p.segment, p.offset]), r.opened])) >>> 0

export const formatReported = (r: ReportedGone): string =>
  JSON.stringify({ gone: r.gone.map((p) => [p.segment, p.offset]), opened: r.opened, crc: crcOf(r) })

/** The file's content, or null when it is not this shape or its crc does not match (a flipped bit must not hide a loss). */
export function parseReported(text: string): ReportedGone | null {
  try {
    const { gone, opened, crc } = JSON.parse(text) as { gone?: unknown; opened?: unknown; crc?: unknown }
    if (!Array.isArray(gone) || !Number.isSafeInteger(opened)) return null
    const pairs = gone.filter((p): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isSafeInteger(n)))
    if (pairs.length !== gone.length) return null
    const reported = { gone: pairs.map(([segment, offset]) => ({ segment, offset })), opened: opened as number }
    return crc === crcOf(reported) ? reported : null
  } catch {
    return null
  }
}

/** The file in `dir`, or null when there is none or it cannot be trusted. */
export function readReported(dir: string): ReportedGone | null {
  let text: string
  try {
    text = fs.readFileSync(reportedPath(dir), 'utf8')
  } catch {
    return null
  }
  return parseReported(text)
}

/**
 * Replaces the file with `reported` (temp file, fsync, rename, directory fsync), or removes
 * it when nothing is gone. At start, before any request: blocking is fine.
 */
export function writeReported(dir: string, reported: ReportedGone): void {
  const file = reportedPath(dir)
  if (reported.gone.length > 0) return writeFileAtomicSync(file, formatReported(reported))
  if (!fs.existsSync(file)) return
  fs.rmSync(file, { force: true })
  fsyncDirSync(dir)
}
