/**
 * `collector bad-rows retry [REASON ...] [QUERY]`: bad rows through this version's adapter
 * again, for when the collector has learnt what it could not load (an event type PagerDuty
 * added later, UNKNOWN_EVENT_TYPE) or the database takes what it refused (a constraint
 * dropped, DATABASE_REJECTED). What loads now is removed from `bad_rows`; what still fails
 * stays as it was. A bad row is removed only once every event it made is in `atomic.events`,
 * so an interrupted retry (or the database refusing again) leaves it, and running the same
 * retry again loads nothing twice (event ids are PagerDuty's).
 *
 * Retried events keep their original receipt time as `collector_tstamp`; `etl_tstamp` is the
 * retry's time. A bad row keeps the rest of its request in its `request` column (the webhook
 * URL's query string, the client's address, User-Agent and X-Webhook-Id), and the events get
 * them back, QUERY (`aid=acme`) filling in parameters a row's URL lacked. A row from before
 * that column (or from a table without it) has none: `app_id` and the rest then come from
 * QUERY alone, as with `spool replay`. A DATABASE_REJECTED row keeps its event whole, app_id
 * included.
 */
import type { Config } from '../config.ts'
import { createPagerDutyAdapter } from '../adapters/pagerduty/index.ts'
import { createRegistry } from '../adapters/registry.ts'
import { parseRequestText } from '../events/bad-row.ts'
import { uuidV5 } from '../events/event-id.ts'
import { payloadBytes, payloadEncodingOf } from '../events/raw-body.ts'
import type { BuiltEvent, RequestContext } from '../events/event.ts'
import { formatUtc } from '../events/timestamp.ts'
import { parseBody } from '../http/body.ts'
import { createLog } from '../log.ts'
import { receivedMs } from '../sink/records.ts'
import { qualified, quoteLiteral } from '../sink/sql-text.ts'
import { BAD_ROWS_TABLE, EVENTS_TABLE } from '../sink/tables.ts'
import { VERSION } from '../version.ts'
import { progress, withPrivateLoad } from './private-load.ts'

export interface StoredBadRow { bad_row_id: string; received_at: string; reason: string; version: string | null; payload: string | null; request?: string | null }

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** An event as a DATABASE_REJECTED row keeps it (`badRowForRejected`), or null. */
function storedEvent(value: unknown): BuiltEvent | null {
  if (!isObject(value) || typeof value.eventId !== 'string' || !Array.isArray(value.rows) || value.rows.length === 0) return null
  return value.rows.every((r) => isObject(r) && typeof r.table === 'string' && isObject(r.row)) ? (value as unknown as BuiltEvent) : null
}

/** The reasons of a row made for one message (v1/v2) or one v3 event, not for a whole request. */
const MESSAGE_REASONS = new Set(['MISSING_EVENT_TYPE', 'UNKNOWN_EVENT_TYPE', 'INVALID_MESSAGE', 'INVALID_EVENT', 'UNKNOWN_WEBHOOK_VERSION'])

/**
 * Requests refused before the v3 signature check (src/http/server.ts: 413, 415): their body
 * was never verified, so with PAGERDUTY_WEBHOOK_SECRETS set a forged v3 event sent as
 * text/plain would load here. They are refused for how they came, not for what a later
 * version learns: never retried.
 */
const UNVERIFIED_REASONS = new Set(['PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'])

/**
 * The webhook body a bad row's payload came from: a v3 event under `event`, a v1/v2 message
 * as the one message of a batch; a request's row (a whole body) as it is, never wrapped: a
 * body refused for its shape stays refused.
 */
export function bodyOf(row: StoredBadRow, payload: unknown): string {
  const whole = isObject(payload) && (Array.isArray(payload.messages) || isObject(payload.event))
  if (whole || !MESSAGE_REASONS.has(row.reason)) return row.payload as string
  return JSON.stringify(row.version === 'v3' ? { event: payload } : { messages: [payload] })
}

const adapter = createRegistry([createPagerDutyAdapter(VERSION)]).lookup('com.pagerduty', 'v1')

/** `fromQuery`: the events took their request context from QUERY, the row having kept none. */
export type Retried = { ok: true; events: BuiltEvent[]; fromQuery: boolean } | { ok: false; reason: string; never?: true }

/**
 * One bad row through the adapter again: its events, or why it still fails. The request
 * context is the row's own when it kept one, `query` filling in the query parameters it
 * lacks; for a row that kept none, `query` stands in for its query string.
 */
export function retryRow(row: StoredBadRow, query: Record<string, string>, now: Date): Retried {
  const receivedAt = receivedMs(row.received_at)
  if (UNVERIFIED_REASONS.has(row.reason)) return { ok: false, reason: row.reason, never: true }
  if (row.payload === null || receivedAt === null || !adapter) return { ok: false, reason: row.reason }
  // A body that was not text is kept as base64 (src/events/raw-body.ts), and one in UTF-16 as
  // its text: retried as the bytes that came, so it gets the answer it got then, not one for
  // its base64 (INVALID_JSON), or for its text read as UTF-8 (a load of a body refused before
  // any signature check), or, as when it was kept with U+FFFD, a load of what was never sent.
  const encoding = payloadEncodingOf(row.request)
  const bytes = payloadBytes(row.payload, encoding)
  if (bytes === null) return { ok: false, reason: row.reason }
  const utf8Text = encoding.payload_encoding !== 'base64' && encoding.payload_charset === undefined
  let payload: unknown
  try {
    payload = utf8Text ? JSON.parse(row.payload) : undefined
  } catch {
    payload = undefined
  }
  const etl = formatUtc(now)
  const stamped = (events: BuiltEvent[]) => events.map((e) => ({ ...e, rows: e.rows.map((r, i) => (i === 0 ? { ...r, row: { ...r.row, etl_tstamp: etl } } : r)) }))
  if (row.reason === 'DATABASE_REJECTED') {
    const event = storedEvent(payload)
    return event ? { ok: true, events: stamped([event]), fromQuery: false } : { ok: false, reason: row.reason }
  }
  const body = parseBody(payload === undefined ? bytes : Buffer.from(bodyOf(row, payload)))
  const stored = parseRequestText(row.request)
  const ctx: RequestContext = {
    receivedAt: new Date(receivedAt),
    requestId: uuidV5(`bad-rows-retry/${row.bad_row_id}`),
    ...(stored
      // QUERY fills in what the row's own query string lacks (an aid given on the command line
      // for rows whose webhook URL had none); the row's own values win.
      ? { query: { ...query, ...stored.query }, ipAddress: stored.user_ipaddress, userAgent: stored.useragent, webhookId: stored.webhook_id }
      : { query, ipAddress: null, userAgent: 'collector-bad-rows-retry', webhookId: null }),
  }
  if (!body.ok) return { ok: false, reason: body.code }
  const result = adapter.toEvents({ body: body.json, rawBody: body.text, ctx })
  if (!result.ok) return { ok: false, reason: result.code }
  // All of it or nothing: a batch's row whose messages only partly load now stays whole.
  if (result.badRows.length > 0) return { ok: false, reason: result.badRows[0]?.reason ?? row.reason }
  if (result.events.length === 0) return { ok: false, reason: 'NO_EVENTS' }
  return { ok: true, events: stamped(result.events), fromQuery: stored === null }
}

const PAGE_ROWS = 100

/**
 * The next page of bad rows after `after`, in (received_at, bad_row_id) order. `received_at >=`
 * stands on its own so the received_at index bounds the page, and the order names the table's
 * columns (a bare `received_at` is the to_char text selected): with the OR alone, every page
 * read and sorted all the rows after it, quadratic in the table (300,000 rows: 90 ms a page).
 */
export function pageQuery(badRows: string, filter: string, after: { at: string; id: string } | null, withRequest = true): string {
  const at = after ? `${quoteLiteral(after.at)}::timestamp` : ''
  // Qualified in WHERE too, not only in ORDER BY: the bare name is also the to_char text's
  // alias, and Redshift resolves select-list aliases where PostgreSQL does not (lateral column
  // alias reference); which one its WHERE would take is untested without a cluster. Qualified,
  // it is the column on either database.
  const column = `${badRows}.received_at`
  const from = after ? ` and ${column} >= ${at} and (${column} > ${at} or bad_row_id > ${quoteLiteral(after.id)})` : ''
  return `select bad_row_id, to_char(received_at, 'YYYY-MM-DD HH24:MI:SS.US') as received_at, reason, version, payload${withRequest ? ', request' : ''} from ${badRows} where ${filter}${from} order by ${column}, ${badRows}.bad_row_id limit ${PAGE_ROWS}`
}
const ID_CHUNK = 500

export async function retryBadRows(config: Config, reasons: readonly string[], query: Record<string, string>): Promise<number> {
  const log = createLog(config.logLevel)
  const badRows = qualified(config.dbSchema, BAD_ROWS_TABLE)
  const events = qualified(config.dbSchema, EVENTS_TABLE)
  return withPrivateLoad(config, log, 'bad-rows-retry', 'the retry stops here; run it again once the database is reachable', async (load) => {
    const sql = load.database.sql
    const filter = `vendor = 'com.pagerduty'${reasons.length > 0 ? ` and reason in (${reasons.map(quoteLiteral).join(', ')})` : ''}`
    let total: number
    try {
      total = Number((await sql.unsafe(`select count(*) as n from ${badRows} where ${filter}`))[0]?.n ?? 0)
    } catch (error) {
      if ((error as { code?: string }).code !== '42P01') throw error
      process.stdout.write(`no ${config.dbSchema}.${BAD_ROWS_TABLE} table: nothing to retry\n`)
      return 0
    }
    if (total === 0) {
      process.stdout.write(`no bad rows to retry in ${config.dbSchema}.${BAD_ROWS_TABLE}${reasons.length > 0 ? ` with reason ${reasons.join(' or ')}` : ''}\n`)
      return 0
    }
    // A table from before the request column (Redshift, or one this login does not own) has none.
    const withRequest = (await sql.unsafe(`select 1 from information_schema.columns where table_schema = $1 and table_name = $2 and column_name = 'request'`, [config.dbSchema, BAD_ROWS_TABLE])).length > 0
    const now = new Date()
    /** Each retried row's id with its events' ids: removed once they are all loaded. */
    const loaded: { id: string; eventIds: string[] }[] = []
    const stillBad = new Map<string, number>()
    /** Rows of requests refused before the signature check: not tried at all (UNVERIFIED_REASONS). */
    const notRetried = new Map<string, number>()
    let seen = 0
    /** Rows loaded with QUERY's context: they kept no request of their own. */
    let fromQuery = 0
    let after: { at: string; id: string } | null = null
    // Pages in (received_at, bad_row_id) order, so rows added meanwhile neither repeat nor stall it.
    for (;;) {
      const page: StoredBadRow[] = await sql.unsafe<StoredBadRow[]>(pageQuery(badRows, filter, after, withRequest))
      for (const row of page) {
        const retried = retryRow(row, query, now)
        if (retried.ok) {
          if (retried.fromQuery) fromQuery++
          await load.append(retried.events, [])
          loaded.push({ id: row.bad_row_id, eventIds: retried.events.map((e) => e.eventId) })
        } else {
          const tally = retried.never ? notRetried : stillBad
          tally.set(retried.reason, (tally.get(retried.reason) ?? 0) + 1)
        }
        progress(++seen, Math.max(seen, total))
      }
      const last: StoredBadRow | undefined = page[page.length - 1]
      if (!last || page.length < PAGE_ROWS) break
      after = { at: last.received_at, id: last.bad_row_id }
    }
    const { left, status: w } = await load.finish()
    if (left > 0) {
      // The database went away: nothing is removed now (the next run finds what did load).
      process.stdout.write(`retried ${seen} bad rows: ${left} events NOT loaded (${w.lastError}): run the same retry again once the database is reachable; nothing was removed from ${config.dbSchema}.${BAD_ROWS_TABLE}, and nothing loads twice\n`)
      return 1
    }
    // Only rows whose every event is in the table leave bad_rows (not one the database
    // refused again: its row is the same row, by id, and stays).
    const present = new Set<string>()
    const allIds = [...new Set(loaded.flatMap((l) => l.eventIds))]
    for (let i = 0; i < allIds.length; i += ID_CHUNK) {
      const chunk = allIds.slice(i, i + ID_CHUNK)
      for (const r of await sql.unsafe<{ event_id: string }[]>(`select event_id from ${events} where event_id in (${chunk.map(quoteLiteral).join(', ')})`)) present.add(r.event_id)
    }
    const removable = loaded.filter((l) => l.eventIds.every((id) => present.has(id))).map((l) => l.id)
    try {
      for (let i = 0; i < removable.length; i += ID_CHUNK) {
        await sql.unsafe(`delete from ${badRows} where bad_row_id in (${removable.slice(i, i + ID_CHUNK).map(quoteLiteral).join(', ')})`)
      }
    } catch (error) {
      // A login with only the collector's grants (SELECT, INSERT): the events are in, which a
      // bare "permission denied" exit did not say, and a run with DELETE removes the rows.
      if ((error as { code?: string }).code !== '42501') throw error
      process.stdout.write(`retried ${seen} bad rows: their events loaded (events: ${w.loadedEvents} new, ${w.duplicateEvents} already loaded), but ${removable.length} rows could not be removed from ${config.dbSchema}.${BAD_ROWS_TABLE} (${(error as Error).message}): grant this login DELETE on it, or run the retry as its owner; running it again loads nothing twice\n`)
      return 1
    }
    await load.database.embedded?.flush()
    const kept = loaded.length - removable.length
    const counted = (tally: Map<string, number>) => [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `${reason} ${n}`).join(', ')
    const sum = (tally: Map<string, number>) => [...tally.values()].reduce((a, b) => a + b, 0)
    process.stdout.write([
      `retried ${seen} bad rows: ${removable.length} loaded and removed from ${config.dbSchema}.${BAD_ROWS_TABLE} (events: ${w.loadedEvents} new, ${w.duplicateEvents} already loaded)`,
      stillBad.size > 0 ? `; ${sum(stillBad)} still bad, left as they are (${counted(stillBad)})` : '',
      notRetried.size > 0 ? `; ${sum(notRetried)} not retried, left as they are: their bodies were refused before any signature check, so they never load (${counted(notRetried)})` : '',
      kept > 0 ? `; ${kept} made events the database refused again, left as they are` : '',
      fromQuery > 0 ? `; ${fromQuery} kept no request of their own (a bad row from before its request column): their app_id and the rest came from ${Object.keys(query).length > 0 ? 'QUERY' : 'no QUERY, so NULL'}` : '',
      '\n',
    ].join(''))
    return 0
  })
}
