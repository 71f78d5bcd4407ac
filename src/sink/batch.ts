/** What the writer hands a dialect: the decoded records of one batch. */
import type { BadRow, BuiltEvent } from '../events/event.ts'

export interface Batch { events: BuiltEvent[]; badRows: BadRow[] }

export interface WriteResult {
  /** Events inserted by this batch. */
  loaded: number
  /** Events already in the database (a retry or a replay). */
  duplicates: number
  badRows: number
}

export interface Sink {
  readonly dialect: 'postgres' | 'redshift'
  write(batch: Batch): Promise<WriteResult>
}

/** Keeps the first event of each event_id: a retry may land in the same batch as the original. */
export function uniqueEvents(events: readonly BuiltEvent[]): BuiltEvent[] {
  const seen = new Set<string>()
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)))
}
