/**
 * Bad rows: every rejected or unrecognised input, with its raw payload, as Snowplow keeps
 * failures as values and never drops them. The id is deterministic (see `badRowId`), so
 * neither a spool replay nor a PagerDuty retry inserts one twice.
 */
import type { Issue } from '../adapters/types.ts'
import { uuidV5 } from './event-id.ts'
import { redactUrlCredentials } from './redact.ts'
import { formatUtc } from './timestamp.ts'
import type { BadRow, RequestContext } from './event.ts'

/**
 * A rejected request's raw body as bad-row text: NUL replaced (a text column cannot hold it)
 * and credentials in URLs replaced (a rejected v2 body still names the subscription's URL).
 */
export const rawPayload = (text: string): string => redactUrlCredentials(text.replaceAll('\u0000', '\uFFFD'))

/**
 * A PagerDuty retry of a delivery whose 2xx it never saw (a timeout, a dropped connection)
 * carries the same X-Webhook-Id and body: its events dedupe by event_id, and its bad rows by
 * this id, made of the header, the position and the payload (a sender reusing a header for
 * another body keeps both). Without the header, per request: a spool replay inserts once.
 */
function badRowId(ctx: RequestContext, position: string, payload: string): string {
  return uuidV5(ctx.webhookId ? `bad-row/webhook/${ctx.webhookId}/${position}/${payload}` : `bad-row/${ctx.requestId}/${position}`)
}

export function badRow(
  ctx: RequestContext,
  position: string,
  reason: string,
  issues: readonly Issue[],
  version: string | null,
  payload: string,
): BadRow {
  return {
    bad_row_id: badRowId(ctx, position, payload),
    received_at: formatUtc(ctx.receivedAt),
    reason,
    detail: JSON.stringify(issues),
    vendor: 'com.pagerduty',
    version,
    payload,
  }
}
