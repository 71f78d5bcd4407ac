/**
 * Bad rows: every rejected or unrecognised input, with its raw payload, as Snowplow keeps
 * failures as values and never drops them. The id is deterministic (see `badRowId`), so
 * neither a spool replay nor a PagerDuty retry inserts one twice.
 */
import type { Issue } from '../adapters/types.ts'
import { uuidV5 } from './event-id.ts'
import { redactUrlCredentials } from './redact.ts'
import { asciiJson } from './storable.ts'
import { formatUtc } from './timestamp.ts'
import type { BadRow, RequestContext } from './event.ts'
import type { PayloadEncoding } from './raw-body.ts'

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

/**
 * Said in the detail too, for whoever reads the row by eye, and for a table without the
 * request column (Redshift's before it, where no one ran the ALTER): the payload is not text.
 */
const base64Note = (encoding: PayloadEncoding): Issue => ({
  path: '/payload',
  message: `the body is kept as base64, not being UTF-8 text${encoding.content_encoding ? ` (Content-Encoding ${JSON.stringify(encoding.content_encoding)})` : ''}: decode(payload, 'base64') gives its bytes`,
})

/**
 * Likewise for text kept in the charset it came in: a UTF-16 body refused as INVALID_UTF8 is
 * stored as its text, JSON that reads well, and without this the row did not say why it failed.
 */
const charsetNote = (charset: string): Issue => ({
  path: '/payload',
  message: `the body is kept as its text, read in ${charset}, not UTF-8: that text written in ${charset} gives its bytes`,
})

const payloadNotes = (encoding: PayloadEncoding): Issue[] =>
  encoding.payload_encoding === 'base64' ? [base64Note(encoding)] : encoding.payload_charset ? [charsetNote(encoding.payload_charset)] : []

export function badRow(
  ctx: RequestContext,
  position: string,
  reason: string,
  issues: readonly Issue[],
  version: string | null,
  payload: string,
  encoding: PayloadEncoding = {},
): BadRow {
  return {
    bad_row_id: badRowId(ctx, position, payload),
    received_at: formatUtc(ctx.receivedAt),
    reason,
    detail: JSON.stringify([...issues, ...payloadNotes(encoding)]),
    vendor: 'com.pagerduty',
    version,
    payload,
    request: requestText(ctx, encoding),
  }
}

/** A bad row's `request` column, parsed: the request context its events would have had. */
export interface StoredRequest { query: Record<string, string>; user_ipaddress: string | null; useragent: string | null; webhook_id: string | null }

/**
 * The `request` column's JSON: the webhook URL's query parameters and the headers events
 * take, and how the payload is stored when it is not UTF-8 text (src/events/raw-body.ts).
 */
export function requestText(ctx: RequestContext, encoding: PayloadEncoding = {}): string {
  // Each value cut to the width of the column it fills (app_id etc. varchar(255), useragent
  // varchar(1000), ...): MAX_BODY_BYTES does not bound headers and query values, and the
  // spool floor (8 x MAX_BODY_BYTES + 32 KiB) leaves only that much room beside the body.
  const cut = (v: string | null, n: number) => (v === null ? null : Array.from(v).slice(0, n).join(''))
  const query = Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, cut(v, 255) as string]))
  const stored: StoredRequest = { query, user_ipaddress: cut(ctx.ipAddress, 128), useragent: cut(ctx.userAgent, 1000), webhook_id: cut(ctx.webhookId, 255) }
  // ASCII: a database whose encoding lacks a character of a query value or header would
  // otherwise refuse the whole bad row, its essentials included.
  return asciiJson({ ...stored, ...encoding })
}

const stringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string'

/** `requestText`'s JSON read back; null when absent or not its shape (a table from before it, a value cut short). */
export function parseRequestText(text: unknown): StoredRequest | null {
  if (typeof text !== 'string') return null
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return null
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null
  const r = v as Record<string, unknown>
  const query = r.query
  if (query === null || typeof query !== 'object' || Array.isArray(query) || !Object.values(query).every((q) => typeof q === 'string')) return null
  if (!stringOrNull(r.user_ipaddress) || !stringOrNull(r.useragent) || !stringOrNull(r.webhook_id)) return null
  return { query: { ...(query as Record<string, string>) }, user_ipaddress: r.user_ipaddress, useragent: r.useragent, webhook_id: r.webhook_id }
}
