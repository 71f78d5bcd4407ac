/**
 * The canonical event: one `atomic.events` row plus its shredded entity row(s), keyed by
 * table name, exactly as the writer will insert them. Built by the adapters from the
 * request context; pure data, JSON-serialisable, so the spool can hold it as is.
 */
import { formatUtc } from './timestamp.ts'

export type Cell = string | number | boolean | null
export type Row = Record<string, Cell>

export interface BuiltEvent {
  eventId: string
  /** `events` first, then the entity tables, each by its table name without schema. */
  rows: { table: string; row: Row }[]
}

export interface BadRow {
  bad_row_id: string
  received_at: string
  reason: string
  detail: string
  vendor: string
  version: string | null
  payload: string
  /**
   * What the request carried beside its body (`requestText`): what its events would have
   * taken from it, so `bad-rows retry` can give them back. Null where there was no request
   * (an event the database refused keeps it in its own row; an undecodable spool record).
   */
  request: string | null
}

/** What the HTTP edge knows about a request; the clock and ids come in from outside. */
export interface RequestContext {
  receivedAt: Date
  query: Record<string, string>
  ipAddress: string | null
  userAgent: string | null
  webhookId: string | null
  /** A fresh random UUID per request, for bad-row ids (idempotent across spool replays). */
  requestId: string
}

export interface SchemaKey { vendor: string; name: string; format: 'jsonschema'; version: string }

export const COLLECTOR_NAME = 'pagerduty-collector'

/** Snowplow's platform codes (tracker protocol); `p` defaults to `srv`. */
/** The webhook URL's query parameters that become columns: aid -> app_id, p -> platform, cv -> v_collector, nuid -> network_userid. */
export const QUERY_PARAMETERS: readonly string[] = ['aid', 'p', 'cv', 'nuid']

export const PLATFORMS = ['web', 'mob', 'pc', 'srv', 'app', 'tv', 'cnsl', 'iot', 'headset'] as const

/** The `atomic.events` row for one self-describing (unstruct) event. */
export function atomicRow(ctx: RequestContext, eventId: string, schema: SchemaKey, tracker: string, collectorVersion: string): Row {
  const tstamp = formatUtc(ctx.receivedAt)
  return {
    event_id: eventId,
    collector_tstamp: tstamp,
    etl_tstamp: tstamp,
    derived_tstamp: tstamp,
    event: 'unstruct',
    event_vendor: schema.vendor,
    event_name: schema.name,
    event_format: schema.format,
    event_version: schema.version,
    v_tracker: tracker,
    v_collector: ctx.query.cv ?? `${COLLECTOR_NAME}-${collectorVersion}`,
    v_etl: `${COLLECTOR_NAME}-${collectorVersion}`,
    app_id: ctx.query.aid ?? null,
    platform: ctx.query.p ?? 'srv',
    network_userid: ctx.query.nuid ?? null,
    user_ipaddress: ctx.ipAddress,
    useragent: ctx.userAgent,
  }
}

/** `ref_tree` of an entity, `["events","<schema name>"]`: one string per schema name. */
const refTrees = new Map<string, string>()
const refTree = (name: string): string => {
  let tree = refTrees.get(name)
  if (tree === undefined) refTrees.set(name, (tree = JSON.stringify(['events', name])))
  return tree
}

/** Snowplow's shredded-table hierarchy columns for a context or unstruct entity. */
export function hierarchyColumns(eventId: string, ctx: RequestContext, schema: SchemaKey): Row {
  return {
    schema_vendor: schema.vendor,
    schema_name: schema.name,
    schema_format: schema.format,
    schema_version: schema.version,
    root_id: eventId,
    root_tstamp: formatUtc(ctx.receivedAt),
    ref_root: 'events',
    ref_tree: refTree(schema.name),
    ref_parent: 'events',
  }
}
