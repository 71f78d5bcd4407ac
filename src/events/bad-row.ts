/**
 * Bad rows: every rejected or unrecognised input, with its raw payload, as Snowplow keeps
 * failures as values and never drops them. The id is derived from the request id and the
 * position, so a spool replay of the same record cannot insert it twice.
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

export function badRow(
  ctx: RequestContext,
  position: string,
  reason: string,
  issues: readonly Issue[],
  version: string | null,
  payload: string,
): BadRow {
  return {
    bad_row_id: uuidV5(`bad-row/${ctx.requestId}/${position}`),
    received_at: formatUtc(ctx.receivedAt),
    reason,
    detail: JSON.stringify(issues),
    vendor: 'com.pagerduty',
    version,
    payload,
  }
}
