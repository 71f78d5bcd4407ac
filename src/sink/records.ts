/**
 * Spool record payloads: the JSON of one request's built events and bad rows. Decoding a
 * record that passed its checksum cannot normally fail; if it does (a bug, a version skew),
 * its text becomes a bad row rather than blocking the spool.
 */
import type { BadRow, BuiltEvent } from '../events/event.ts'
import { uuidV5 } from '../events/event-id.ts'
import { formatUtc } from '../events/timestamp.ts'
import type { SpoolRecord } from '../spool/spool.ts'
import type { Batch } from './batch.ts'

export interface RecordBody { events: BuiltEvent[]; badRows: BadRow[] }

/** The record's text; the spool frames it as UTF-8 without an intermediate buffer. */
export const encodeRecord = (body: RecordBody): string => JSON.stringify(body)

const decoder = new TextDecoder()

export function decodeRecord(record: SpoolRecord, into: Batch): void {
  const text = decoder.decode(record.payload)
  try {
    const body = JSON.parse(text) as RecordBody
    into.events.push(...body.events)
    into.badRows.push(...body.badRows)
  } catch (error) {
    into.badRows.push({
      bad_row_id: uuidV5(`spool-record/${record.position.segment}/${record.position.offset}/${text.length}`),
      received_at: formatUtc(new Date()),
      reason: 'UNDECODABLE_SPOOL_RECORD',
      detail: JSON.stringify([{ path: '', message: String(error) }]),
      vendor: 'com.pagerduty',
      version: null,
      payload: text,
    })
  }
}

/** An event the database refused, as a bad row that keeps every value it carried. */
export function badRowForRejected(event: BuiltEvent, reason: string): BadRow {
  const atomic = event.rows[0]?.row ?? {}
  return {
    bad_row_id: uuidV5(`rejected/${event.eventId}`),
    received_at: String(atomic.collector_tstamp ?? formatUtc(new Date())),
    reason: 'DATABASE_REJECTED',
    detail: JSON.stringify([{ path: '', message: reason }]),
    vendor: 'com.pagerduty',
    version: typeof atomic.v_tracker === 'string' ? atomic.v_tracker.replace('com.pagerduty-', '') : null,
    payload: JSON.stringify(event),
  }
}
