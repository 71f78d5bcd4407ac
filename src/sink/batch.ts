/** What the writer hands a dialect: the decoded records of one batch. */
import type { BadRow, BuiltEvent } from '../events/event.ts'

export interface Batch { events: BuiltEvent[]; badRows: BadRow[] }

export interface WriteResult {
  /** Events inserted by this batch. */
  loaded: number
  /** Events already in the database (a retry or a replay). */
  duplicates: number
  /** Bad rows inserted by this batch (a replay's are in the table already). */
  badRows: number
  /** Inserted events by webhook version (`v1`, ...), for the loaded-events metric. */
  loadedByVersion?: Record<string, number>
}

/** `v_tracker` is `com.pagerduty-v1` (`-v2`, `-v3`): the part after the dash is the version. */
export const webhookVersion = (tracker: unknown): string =>
  typeof tracker === 'string' && tracker.includes('-') ? tracker.slice(tracker.lastIndexOf('-') + 1) : 'unknown'

/** Adds `b` into `a` (both per-version counts). */
export function addByVersion(a: Record<string, number>, b: Record<string, number> | undefined): Record<string, number> {
  for (const [version, n] of Object.entries(b ?? {})) a[version] = (a[version] ?? 0) + n
  return a
}

export interface Sink {
  readonly dialect: 'postgres' | 'redshift'
  write(batch: Batch): Promise<WriteResult>
  /** Gets ready to write (tables created, columns read) before the first batch, if it can. */
  prepare?(): Promise<void>
  /** Asks the database for an answer (`select 1`), for the writer's idle probe. */
  ping?(): Promise<void>
  /**
   * Gives up on the writes in flight (one timed out): closes the connections, which fails
   * them at once, and writes again on new ones.
   */
  abandon?(): void
}

/** Keeps the first event of each event_id: a retry may land in the same batch as the original. */
export function uniqueEvents(events: readonly BuiltEvent[]): BuiltEvent[] {
  const seen = new Set<string>()
  return events.filter((e) => (seen.has(e.eventId) ? false : (seen.add(e.eventId), true)))
}
