/**
 * Spool record payloads, two kinds:
 *  - a webhook as received: a 0x01 byte, one line of JSON holding the request context
 *    (receipt time, query, client, X-Webhook-Id, request id) and the adapter's path, then the
 *    raw body. The writer runs the adapter again (a pure function of body and context, so the
 *    same events, ids and bad rows) when it loads the record. The request is stored once:
 *    storing its built rows and the raw message as well made records 3.4 times the body,
 *    which cost memory, CPU and spool space (a third as many events per SPOOL_MAX_BYTES);
 *  - built rows as JSON ({events, badRows}), for bad rows of rejected requests and replays.
 * Decoding a record that passed its checksum cannot normally fail; if it does (a bug, a
 * version skew), its text becomes a bad row rather than blocking the spool.
 */
import type { BadRow, BuiltEvent, RequestContext } from '../events/event.ts'
import { uuidV5 } from '../events/event-id.ts'
import { formatUtc } from '../events/timestamp.ts'
import type { SpoolRecord } from '../spool/spool.ts'
import type { Batch } from './batch.ts'

export interface RecordBody { events: BuiltEvent[]; badRows: BadRow[] }

/** Which adapter built the request's events: `/vendor/version` of its path. */
export interface StoredRequest { vendor: string; version: string; ctx: RequestContext }

/** Builds a stored request's events again (the adapter registry, in the writer). */
export type Rebuild = (request: StoredRequest, body: unknown, rawBody: string) => RecordBody

const REQUEST = '\u0001'

/** The record's text; the spool frames it as UTF-8 without an intermediate buffer. */
export const encodeRecord = (body: RecordBody): string => JSON.stringify(body)

/** The line before a stored webhook's body: what its events are built from. */
export function encodeRequestHead(request: StoredRequest): string {
  const { query, ipAddress, userAgent, webhookId, requestId, receivedAt } = request.ctx
  return `${REQUEST}${JSON.stringify({ vendor: request.vendor, version: request.version, ctx: { query, ipAddress, userAgent, webhookId, requestId, receivedAt: receivedAt.toISOString() } })}\n`
}

/** A webhook as received, with what its events are built from. */
export const encodeRequest = (request: StoredRequest, rawBody: string): string => encodeRequestHead(request) + rawBody

const BOM = [0xef, 0xbb, 0xbf]

/**
 * The same record as parts for the spool, the body as the bytes received: exactly the UTF-8
 * of its text once a leading byte-order mark (which the text does not have) is left out.
 */
export function requestParts(request: StoredRequest, body: Uint8Array): [string, Uint8Array] {
  const bom = body.length >= 3 && body[0] === BOM[0] && body[1] === BOM[1] && body[2] === BOM[2]
  return [encodeRequestHead(request), bom ? body.subarray(3) : body]
}

function decodeRequest(text: string, rebuild: Rebuild | undefined): RecordBody {
  if (!rebuild) throw new Error('a stored request, but no adapter to rebuild it')
  const newline = text.indexOf('\n')
  const head = JSON.parse(text.slice(1, newline)) as Omit<StoredRequest, 'ctx'> & { ctx: Omit<RequestContext, 'receivedAt'> & { receivedAt: string } }
  const rawBody = text.slice(newline + 1)
  const request: StoredRequest = { vendor: head.vendor, version: head.version, ctx: { ...head.ctx, receivedAt: new Date(head.ctx.receivedAt) } }
  return rebuild(request, JSON.parse(rawBody), rawBody)
}

const decoder = new TextDecoder()

export function decodeRecord(record: SpoolRecord, into: Batch, rebuild?: Rebuild): void {
  if (record.memo !== undefined) {
    // Built by this process's HTTP edge when it accepted the request: the same rows a
    // rebuild would give (the adapters are pure), without parsing and building them again.
    const body = record.memo as RecordBody
    into.events.push(...body.events)
    into.badRows.push(...body.badRows)
    return
  }
  const text = decoder.decode(record.payload)
  try {
    const body = text.startsWith(REQUEST) ? decodeRequest(text, rebuild) : (JSON.parse(text) as RecordBody)
    into.events.push(...body.events)
    // A record from before the request column has bad rows without the key: the batch's plan
    // is made from its first row's keys, so one such row would drop the column for all.
    for (const b of body.badRows) into.badRows.push(b.request === undefined ? { ...b, request: null } : b)
  } catch (error) {
    into.badRows.push({
      bad_row_id: uuidV5(`spool-record/${record.position.segment}/${record.position.offset}/${text.length}`),
      received_at: formatUtc(new Date()),
      reason: 'UNDECODABLE_SPOOL_RECORD',
      detail: JSON.stringify([{ path: '', message: String(error) }]),
      vendor: 'com.pagerduty',
      version: null,
      payload: text,
      request: null,
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
    // The event's own row keeps what came with its request (app_id, user_ipaddress, ...).
    request: null,
  }
}

/** Milliseconds of a receipt time as rows carry it (`formatUtc`: `2026-03-01 12:00:00.000`, UTC); null if it is not one. */
export function receivedMs(text: unknown): number | null {
  if (typeof text !== 'string') return null
  const ms = Date.parse(`${text.replace(' ', 'T')}Z`)
  return Number.isNaN(ms) ? null : ms
}

/**
 * When the oldest webhook of a batch (or a record's rows) was received: records are read in
 * spool order, so the first event's and the first bad row's receipt times are the oldest
 * (give or take the few milliseconds between a request's receipt and its append).
 */
export function oldestReceivedMs(body: Batch | RecordBody): number | null {
  const times = [receivedMs(body.events[0]?.rows[0]?.row.collector_tstamp), receivedMs(body.badRows[0]?.received_at)].filter((t): t is number => t !== null)
  return times.length > 0 ? Math.min(...times) : null
}

/**
 * When a spool record's webhook was received: from its memo, the head of a stored request
 * (nothing rebuilt), or its rows. Null when the record does not say (it would not decode).
 */
export function recordReceivedMs(record: SpoolRecord): number | null {
  if (record.memo !== undefined) return oldestReceivedMs(record.memo as RecordBody)
  const text = decoder.decode(record.payload)
  try {
    if (!text.startsWith(REQUEST)) return oldestReceivedMs(JSON.parse(text) as RecordBody)
    const head = JSON.parse(text.slice(1, text.indexOf('\n'))) as { ctx?: { receivedAt?: unknown } }
    const ms = typeof head.ctx?.receivedAt === 'string' ? Date.parse(head.ctx.receivedAt) : NaN
    return Number.isNaN(ms) ? null : ms
  } catch {
    return null
  }
}
