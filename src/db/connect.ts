/** The one database client: postgres.js, for an external URL and for the embedded PGlite alike. */
import postgres from 'postgres'
import type { Dialect } from '../config.ts'
import { formatUtc } from '../events/timestamp.ts'
import { databaseTls, type DatabaseTls } from './tls.ts'

/**
 * Values reach the database as the text the adapters built. postgres.js would otherwise
 * re-encode them by the column's type: `new Date(text)` for timestamps (reads offset-less
 * text in the machine's local zone) and JSON.stringify for json (double-encodes JSON text).
 */
const passthrough = (x: unknown): string => (typeof x === 'string' ? x : x instanceof Date ? formatUtc(x) : JSON.stringify(x))
export const COLUMN_TYPES = {
  timestamp: { to: 1114, from: [1114, 1184], serialize: passthrough, parse: (x: string) => x },
  json: { to: 3802, from: [114, 3802], serialize: passthrough, parse: (x: string) => JSON.parse(x) as unknown },
  // text[]: the writer sends each column of a batch as one array literal it builds itself.
  textArray: { to: 1009, from: [1009], serialize: passthrough, parse: (x: string) => x },
}

export interface ConnectOptions {
  url: string
  dialect: Dialect
  /** PGlite serves one session at a time: the embedded database gets a single connection. */
  max?: number
  /** `url`'s TLS worked out beforehand (`databaseTls`), so that opening a pool again reads no files. */
  tls?: DatabaseTls
  /**
   * postgres.js options applied last. Tests use it to record every statement (`debug`) and
   * to run the redshift dialect against a local PostgreSQL without TLS (`ssl: false`).
   */
  overrides?: postgres.Options<Record<string, postgres.PostgresType>>
}

export function connect({ url, dialect, max, tls, overrides }: ConnectOptions): postgres.Sql {
  const { url: bare, ssl } = tls ?? databaseTls(url, dialect)
  return postgres(bare, {
    // postgres.js takes host and port arrays (index.js parseOptions); its typings say string.
    ...(ipv6Host(bare) as object),
    ...databaseName(bare),
    max: max ?? 2,
    // Statements are prepared once per connection: a batch's rows travel as one text[] per
    // column, so the statement text depends only on the tables' columns, not on row counts.
    prepare: true,
    types: COLUMN_TYPES,
    connect_timeout: 10,
    // postgres.js waits before reconnecting, growing 3^n/100 s up to 20 s with each failed
    // connect, shared by the pool. Under the writer's own capped backoff that second backoff
    // held a retry up to 13.5 s after the database was back (measured in the outage bench):
    // connect at once when the writer asks, the writer alone decides when to retry.
    backoff: () => 0,
    idle_timeout: 60,
    max_lifetime: 60 * 30,
    onnotice: () => {},
    // The collector reads no arrays (it sends its own text[] literals), so it never fetches the
    // array types: Redshift has no pg_type.typarray (porsager/postgres#957), and on PostgreSQL
    // that fetch is a query postgres.js runs unawaited on each new connection, whose failure
    // (the pool closed under it after a write timeout) was an unhandled rejection.
    fetch_types: false,
    // From the URL's sslmode and certificate files (src/db/tls.ts); Redshift: TLS by default.
    ssl,
    connection: { application_name: 'pagerduty-collector' },
    ...overrides,
  })
}

/**
 * postgres.js reads a URL's hosts as `host:port` pairs split on ':', so `[::1]` became the
 * host `[`: an IPv6 address goes as the host and port options instead, which it takes as is.
 */
export function ipv6Host(url: string): { host?: string[]; port?: number[] } {
  const { hostname, port } = new URL(url)
  return hostname.startsWith('[') ? { host: [hostname.slice(1, -1)], port: [Number(port || 5432)] } : {}
}

/**
 * The URL's database, percent-decoded as libpq does. postgres.js takes the URL's path as it
 * is: `my%20db` was asked for by that name, and so was a non-ASCII name, which URL encodes
 * (`bücher` -> `b%C3%BCcher`), so the collector could never reach such a database.
 */
export function databaseName(url: string): { database?: string } {
  const name = new URL(url).pathname.slice(1)
  if (!name) return {}
  try {
    return { database: decodeURIComponent(name) }
  } catch {
    return { database: name }
  }
}

/** Host and port of a URL, for logs (never the password). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || '5432'}/${databaseName(url).database ?? ''}`
  } catch {
    return '(unparsable URL)'
  }
}
