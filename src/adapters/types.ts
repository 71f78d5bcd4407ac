/**
 * The adapter contract: a pure function from a parsed request to events and bad rows.
 * Failures are values; only the HTTP edge turns them into statuses.
 */
import type { BadRow, BuiltEvent, RequestContext } from '../events/event.ts'

export interface Issue { path: string; message: string }

export interface AdapterInput {
  body: unknown
  rawBody: string
  ctx: RequestContext
}

export type AdapterResult =
  | {
      ok: true
      version: string
      events: BuiltEvent[]
      badRows: BadRow[]
      /** Health-check deliveries (v3 `pagey.ping`) answered 2xx with no event. */
      pings: number
      /**
       * Messages sent to bad rows, when there are more of them than rows: past
       * MAX_BAD_ROWS_PER_REQUEST they share one TOO_MANY_BAD_MESSAGES row.
       */
      badMessages?: number
      /**
       * The body to keep in the spool instead of the one received, when that held secrets
       * (v2 basic-auth credentials in `webhook.endpoint_url`): the same events build from it.
       */
      storedBody?: string
      /** What was loaded otherwise than asked (an unknown `p` as `srv`): logged, not refused. */
      warnings?: Issue[]
    }
  | { ok: false; code: AdapterRefusal; message: string; issues: Issue[]; version: string | null }

/** Why an adapter refuses a whole request (src/http/responses.ts gives each its status). */
export type AdapterRefusal = 'NOT_PAGERDUTY'

export interface Adapter {
  vendor: string
  /** Path versions served by this adapter (`/vendor/version`). */
  versions: readonly string[]
  toEvents(input: AdapterInput): AdapterResult
}
