/**
 * Reading the spool oldest-first. A torn record (crash mid-write) or a damaged one (flipped
 * bits) fails its checksum: its bytes are moved aside into spool/corrupt/ and reading goes on
 * with the next record that checks out, so one bad record never blocks those behind it.
 */
import fs from 'node:fs'
import type { Position } from './checkpoint.ts'
import { decodeFrame, findMagic, HEADER_BYTES } from './frame.ts'
import { readAt } from './fs.ts'
import { readSegmentCount, segmentPath } from './segments.ts'

export interface SpoolRecord {
  position: Position
  next: Position
  events: number
  payload: Uint8Array
  /** What the record decodes to, when the appending process still held it (then `payload` may be empty). */
  memo?: unknown
}

export type Quarantine = (segment: number, offset: number, bytes: Uint8Array) => void

interface ReadArgs {
  dir: string
  from: Position
  maxEvents: number
  maxBytes: number
  sizes: Map<number, number>
  /** The durable end of the active segment: never read past it. */
  active: Position
  quarantine: Quarantine
  /**
   * A sealed segment whose file is gone (removed outside the collector: a clean-up of old
   * files, say) is told here and read as empty, as a file cut short is; without it, the ENOENT
   * is thrown (`spool status` looks again: the collector deletes loaded segments as it goes).
   */
  missing?: (segment: number, offset: number) => void
}

const CHUNK = 1024 * 1024

/** Where a segment's readable bytes end: the durable end for the active one, else its size. */
const limitOf = (seq: number, args: ReadArgs) => (seq === args.active.segment ? args.active.offset : args.sizes.get(seq) ?? 0)

function nextSegment(seq: number, sizes: Map<number, number>): number | undefined {
  let best: number | undefined
  for (const s of sizes.keys()) if (s > seq && (best === undefined || s < best)) best = s
  return best
}

export function readRecords(args: ReadArgs): { records: SpoolRecord[]; next: Position } {
  const records: SpoolRecord[] = []
  let pos = args.from
  let events = 0
  let bytes = 0
  // Read about a batch at a time: reading CHUNK for a 256 KiB batch copied four times the
  // bytes it used (readSync was a tenth of the writer's profile).
  const base = Math.min(CHUNK, Math.max(64 * 1024, args.maxBytes))
  let want = base
  while (events < args.maxEvents && bytes < args.maxBytes) {
    const limit = limitOf(pos.segment, args)
    if (pos.offset >= limit) {
      if (pos.segment >= args.active.segment) break
      const seq = nextSegment(pos.segment, args.sizes)
      if (seq === undefined) break
      pos = { segment: seq, offset: 0 }
      continue
    }
    let fd: number
    try {
      fd = fs.openSync(segmentPath(args.dir, pos.segment), 'r')
    } catch (error) {
      // Thrown, the writer went back to its checkpoint and met it again, for good: nothing
      // after it loaded until a restart, acknowledged webhooks included.
      if (!args.missing || (error as NodeJS.ErrnoException).code !== 'ENOENT' || pos.segment >= args.active.segment) throw error
      args.missing(pos.segment, pos.offset)
      pos = { segment: pos.segment, offset: limit }
      continue
    }
    const requested = Math.min(want, limit - pos.offset)
    let buf: Buffer
    try {
      buf = readAt(fd, pos.offset, requested)
    } finally {
      fs.closeSync(fd)
    }
    // A file shorter than the spool knows it to be (cut outside the collector): its end is
    // where this segment's records end, or the reader would ask for the same bytes for ever.
    const truncated = buf.length < requested
    const reachesLimit = truncated || pos.offset + buf.length >= limit
    let at = 0
    let progressed = false
    let tailSetAside = false
    while (at < buf.length && events < args.maxEvents && bytes < args.maxBytes) {
      const frame = decodeFrame(buf, at)
      if (frame.kind === 'record') {
        const position = { segment: pos.segment, offset: pos.offset + at }
        at += frame.size
        records.push({ position, next: { segment: pos.segment, offset: pos.offset + at }, events: frame.events, payload: frame.payload })
        events += frame.events
        bytes += frame.size
        progressed = true
        continue
      }
      if (frame.kind === 'incomplete' && !reachesLimit) {
        // The record runs past this chunk: read again from here, large enough to hold it.
        const length = buf.length - at >= 8 ? buf.readUInt32BE(at + 4) : 0
        want = Math.max(base, HEADER_BYTES + length)
        break
      }
      // Corrupt, or a torn tail: skip to the next record that checks out (or the end).
      if (!reachesLimit) { want = limit - pos.offset; break } // need the whole rest to resync
      let resume = buf.length
      for (let m = findMagic(buf, at + 1); m !== -1; m = findMagic(buf, m + 1)) {
        if (decodeFrame(buf, m).kind === 'record') { resume = m; break }
      }
      args.quarantine(pos.segment, pos.offset + at, buf.subarray(at, resume))
      tailSetAside = resume === buf.length
      at = resume
      progressed = true
    }
    pos = { segment: pos.segment, offset: pos.offset + at }
    if (truncated && at >= buf.length) {
      // What was past the file's end is gone: reported as a damaged record there (zero bytes
      // kept), unless a torn record at the cut was just set aside.
      if (!tailSetAside) args.quarantine(pos.segment, pos.offset, buf.subarray(at))
      pos = { segment: pos.segment, offset: limit }
    }
    if (progressed) want = base
  }
  return { records, next: pos }
}

/**
 * Events in the records from `from` on, by their headers (for the backlog after a restart);
 * a whole segment by its count file where that matches (`readSegmentCount`).
 */
export function countEvents(dir: string, from: Position, sizes: Map<number, number>): number {
  let total = 0
  const header = Buffer.allocUnsafe(HEADER_BYTES)
  for (const [seq, size] of [...sizes].sort((a, b) => a[0] - b[0])) {
    if (seq < from.segment) continue
    let offset = seq === from.segment ? from.offset : 0
    if (offset === 0) {
      const counted = readSegmentCount(dir, seq, size)
      if (counted !== null) { total += counted; continue }
    }
    const fd = fs.openSync(segmentPath(dir, seq), 'r')
    try {
      while (offset + HEADER_BYTES <= size) {
        if (fs.readSync(fd, header, 0, HEADER_BYTES, offset) < HEADER_BYTES) break
        const length = header.readUInt32BE(4)
        if (offset + HEADER_BYTES + length > size) break
        total += header.readUInt32BE(8)
        offset += HEADER_BYTES + length
      }
    } finally {
      fs.closeSync(fd)
    }
  }
  return total
}
