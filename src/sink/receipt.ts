/**
 * When the first webhook waiting in the spool was received, read from the spool alone: the
 * writer's `collector_oldest_unloaded_age_seconds` between batches, and the same gauge while
 * the embedded database opens (no writer yet), when a backlog from before a restart waits.
 */
import type { Position, Spool } from '../spool/spool.ts'
import { comparePositions } from '../spool/checkpoint.ts'
import { recordReceivedMs } from './records.ts'

/**
 * The receipt of the first dated record at or after a position (one that would not decode
 * says nothing and is passed over, as `collector spool status` does). Kept while the
 * position and the spool's end stay: a scrape asks often, and past damaged bytes finding
 * nothing costs a read each time. A new append can bring a record where none was: after a
 * restart the checkpoint sits at the end of the last segment while the database is down.
 */
export function spoolReceipts(spool: Pick<Spool, 'first' | 'end'>): (position: Position) => number | null {
  let peeked: { at: Position; end: Position; ms: number | null } | null = null
  return (position) => {
    const end = spool.end()
    if (peeked && comparePositions(peeked.at, position) === 0 && (peeked.ms !== null || comparePositions(peeked.end, end) === 0)) return peeked.ms
    let ms: number | null = null
    try {
      for (let at = position, tries = 0; ms === null && tries < 16; tries++) {
        const record = spool.first(at)
        if (!record) break
        ms = recordReceivedMs(record)
        at = record.next
      }
    } catch {
      // A spool read failing here is the writer's to report; the age is only unknown.
    }
    peeked = { at: position, end, ms }
    return ms
  }
}

