/**
 * Configuration: flags win over environment variables, which win over defaults.
 * `loadConfig` is pure: it takes the environment and argv as values and returns
 * either a Config or one issue per problem, each naming the flag or variable.
 */
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { QUERY_PARAMETERS } from './events/event.ts'
import { tlsSettings } from './db/tls.ts'

export const Dialect = Type.Union([Type.Literal('postgres'), Type.Literal('redshift')])
export type Dialect = Static<typeof Dialect>

export const LogLevel = Type.Union([
  Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'),
])
export type LogLevel = Static<typeof LogLevel>

const Int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum })

export const Config = Type.Object({
  port: Int(0, 65535),
  host: Type.String({ minLength: 1 }),
  dataDir: Type.String({ minLength: 1 }),
  databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
  embeddedPgPort: Type.Optional(Int(0, 65535)),
  dbSchema: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,62}$' }),
  dialect: Dialect,
  webhookSecrets: Type.Array(Type.String({ minLength: 1 })),
  signedOnly: Type.Boolean(),
  basicAuthUsers: Type.Array(Type.Object({ user: Type.String(), password: Type.String() })),
  batchMaxRows: Int(1, 100_000),
  batchMaxWaitMs: Int(0, 60_000),
  batchMaxBytes: Int(1024, 1024 ** 3),
  spoolMaxBytes: Int(1024, Number.MAX_SAFE_INTEGER),
  spoolSegmentBytes: Int(1024, 2 ** 31),
  maxBodyBytes: Int(1, 64 * 1024 * 1024),
  shutdownDrainMs: Int(0, 600_000),
  dbWriteTimeoutMs: Int(0, 3_600_000),
  embeddedStallRestartMs: Int(0, 86_400_000),
  logLevel: LogLevel,
})
export type Config = Static<typeof Config>

export type Command =
  | { name: 'serve' }
  | { name: 'migrate'; print: boolean }
  | { name: 'spool-status' }
  | { name: 'spool-replay'; file: string; query: Record<string, string> }
  | { name: 'bad-rows-retry'; reasons: string[]; query: Record<string, string> }
  | { name: 'help' }
  | { name: 'version' }

export interface ConfigIssue { option: string; message: string }

export type LoadResult =
  | {
      ok: true
      command: Command
      config: Config
      /** The flag or variable a setting came from (or would), to name it in a later error. */
      source(key: keyof Config): string
    }
  | {
      ok: false
      issues: ConfigIssue[]
      /**
       * What did parse, for the checks that look at the machine (a DATA_DIR, a HOST, the TLS
       * files), so that one run names every problem: the command (null if it did not parse),
       * the values (defaults where a value was refused), and the keys whose value was refused.
       */
      partial: { command: Command | null; config: Config; refused: ReadonlySet<keyof Config>; source(key: keyof Config): string }
    }

type Parsed = { ok: true; value: unknown } | { ok: false; message: string }

interface OptionSpec {
  key: keyof Config
  flag?: string
  env: string
  describe: string
  parse: (raw: string) => Parsed
}

const text = (raw: string): Parsed => ({ ok: true, value: raw })
const integer = (raw: string): Parsed =>
  /^\s*-?\d+\s*$/.test(raw) ? { ok: true, value: Number(raw) } : { ok: false, message: `must be an integer, got ${JSON.stringify(raw)}` }
const boolean = (raw: string): Parsed => {
  const v = raw.trim().toLowerCase()
  return ['true', '1', 'yes'].includes(v) ? { ok: true, value: true } : ['false', '0', 'no'].includes(v) ? { ok: true, value: false } : { ok: false, message: `must be true or false, got ${JSON.stringify(raw)}` }
}
const list = (raw: string): Parsed => ({ ok: true, value: raw.split(',').map((s) => s.trim()).filter((s) => s !== '') })
/**
 * A list that turns a check on when set: a value with nothing in it but commas and spaces
 * (a template whose entries expanded to empty) is refused, not read as "unset", which would
 * turn the check off without a word.
 */
const guardList = (parse: (raw: string) => Parsed, what: string) => (raw: string): Parsed => {
  const r = parse(raw)
  return r.ok && Array.isArray(r.value) && r.value.length === 0 && raw.trim() !== '' ? { ok: false, message: `holds no ${what}, only commas and spaces: set at least one, or unset it` } : r
}
/** Byte sizes accept a plain integer or a binary suffix: 512KiB, 10MiB, 10GiB. */
const bytes = (raw: string): Parsed => {
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB)?\s*$/i.exec(raw)
  if (!m) return { ok: false, message: `must be a byte count like 1048576 or 10GiB, got ${JSON.stringify(raw)}` }
  const unit = (m[2] ?? 'B').toLowerCase()
  const scale = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 }[unit] ?? 1
  return { ok: true, value: Number(m[1]) * scale }
}
const userPairs = (raw: string): Parsed => {
  const users: { user: string; password: string }[] = []
  for (const pair of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const at = pair.indexOf(':')
    if (at <= 0) return { ok: false, message: 'must be comma-separated user:password pairs' }
    users.push({ user: pair.slice(0, at), password: pair.slice(at + 1) })
  }
  return { ok: true, value: users }
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'port', flag: '--port', env: 'PORT', describe: 'HTTP port (default 8080)', parse: integer },
  { key: 'host', flag: '--host', env: 'HOST', describe: 'HTTP bind address (default 0.0.0.0)', parse: text },
  { key: 'dataDir', flag: '--data-dir', env: 'DATA_DIR', describe: 'spool and embedded database directory (default ./data)', parse: text },
  { key: 'databaseUrl', flag: '--database-url', env: 'DATABASE_URL', describe: 'postgres:// URL; unset: embedded PGlite in DATA_DIR/pglite', parse: text },
  { key: 'embeddedPgPort', flag: '--embedded-pg-port', env: 'EMBEDDED_PG_PORT', describe: 'serve the embedded database on 127.0.0.1:N (psql from any local account, no password) instead of its private Unix socket in DATA_DIR/socket', parse: integer },
  { key: 'dbSchema', flag: '--db-schema', env: 'DB_SCHEMA', describe: 'schema for the tables (default atomic)', parse: text },
  { key: 'dialect', flag: '--dialect', env: 'DB_DIALECT', describe: 'postgres or redshift (default: redshift for *.redshift.amazonaws.com and *.redshift-serverless.amazonaws.com hosts)', parse: text },
  { key: 'webhookSecrets', env: 'PAGERDUTY_WEBHOOK_SECRETS', describe: 'comma-separated v3 signing secrets; when set, v3 requests must be signed', parse: guardList(list, 'secrets') },
  { key: 'signedOnly', env: 'PAGERDUTY_SIGNED_ONLY', describe: 'true: every webhook must carry a valid X-PagerDuty-Signature (v1 and v2 deliveries, which PagerDuty never signs, get 401); needs PAGERDUTY_WEBHOOK_SECRETS (default false)', parse: boolean },
  { key: 'basicAuthUsers', env: 'BASIC_AUTH_USERS', describe: 'comma-separated user:password pairs; when set, every webhook needs basic auth', parse: guardList(userPairs, 'user:password pairs') },
  { key: 'batchMaxRows', flag: '--batch-max-rows', env: 'BATCH_MAX_ROWS', describe: 'most events per database transaction (default 1000)', parse: integer },
  { key: 'batchMaxBytes', flag: '--batch-max-bytes', env: 'BATCH_MAX_BYTES', describe: 'most spool bytes per database transaction (default 256KiB); bounds the writer\'s memory', parse: bytes },
  { key: 'batchMaxWaitMs', flag: '--batch-max-wait-ms', env: 'BATCH_MAX_WAIT_MS', describe: 'longest wait to fill a batch (default 20)', parse: integer },
  { key: 'spoolMaxBytes', flag: '--spool-max-bytes', env: 'SPOOL_MAX_BYTES', describe: 'spool size bound; over it requests get 503 (default 10GiB)', parse: bytes },
  { key: 'spoolSegmentBytes', flag: '--spool-segment-bytes', env: 'SPOOL_SEGMENT_BYTES', describe: 'spool segment file size (default 64MiB)', parse: bytes },
  { key: 'maxBodyBytes', flag: '--max-body-bytes', env: 'MAX_BODY_BYTES', describe: 'largest accepted request body (default 1MiB)', parse: bytes },
  { key: 'shutdownDrainMs', flag: '--shutdown-drain-ms', env: 'SHUTDOWN_DRAIN_MS', describe: 'on SIGTERM, how long the writer may drain the spool (default 5000)', parse: integer },
  { key: 'dbWriteTimeoutMs', flag: '--db-write-timeout-ms', env: 'DB_WRITE_TIMEOUT_MS', describe: 'a PostgreSQL batch with no answer after this long is cancelled and retried on new connections, the limit doubling while writes time out (default 60000; 0: never)', parse: integer },
  { key: 'embeddedStallRestartMs', flag: '--embedded-stall-restart-ms', env: 'EMBEDDED_STALL_RESTART_MS', describe: 'the embedded database with no answer to the writer for this long (a psql query or transaction holding it, or PGlite wedged) is restarted: its thread ended, its connections closed, opened again (default 300000; 0: never)', parse: integer },
  { key: 'logLevel', flag: '--log-level', env: 'LOG_LEVEL', describe: 'debug, info, warn or error (default info)', parse: text },
]

const DEFAULTS: Omit<Config, 'dialect'> = {
  port: 8080,
  host: '0.0.0.0',
  dataDir: './data',
  dbSchema: 'atomic',
  webhookSecrets: [],
  signedOnly: false,
  basicAuthUsers: [],
  batchMaxRows: 1000,
  batchMaxWaitMs: 20,
  batchMaxBytes: 256 * 1024,
  spoolMaxBytes: 10 * 1024 ** 3,
  spoolSegmentBytes: 64 * 1024 ** 2,
  maxBodyBytes: 1024 ** 2,
  shutdownDrainMs: 5000,
  dbWriteTimeoutMs: 60_000,
  embeddedStallRestartMs: 300_000,
  logLevel: 'info',
}

const checkConfig = TypeCompiler.Compile(Config)

/** Redshift is chosen for cluster and serverless hostnames unless a dialect is given. */
export function defaultDialect(databaseUrl: string | undefined): Dialect {
  if (!databaseUrl) return 'postgres'
  try {
    const host = new URL(databaseUrl).hostname.toLowerCase()
    return host.endsWith('.redshift.amazonaws.com') || host.endsWith('.redshift-serverless.amazonaws.com') ? 'redshift' : 'postgres'
  } catch {
    return 'postgres'
  }
}

/**
 * libpq's URL forms postgres.js does not take, which used to pass the start and fail later
 * (a `host` parameter went to the server as a setting; a socket path did not resolve): a
 * Unix socket (no host, a percent-encoded path, `?host=/dir`) and a list of hosts.
 */
function unsupportedHostForm(url: string): string | null {
  const authority = /^postgres(?:ql)?:\/\/([^/?#]*)/i.exec(url)?.[1] ?? ''
  const host = authority.slice(authority.lastIndexOf('@') + 1)
  if (host.includes(',')) return 'a list of hosts'
  if (/^%2f/i.test(host)) return 'a Unix socket (a socket directory as the host)'
  if (/[?&](host|port)=/i.test(url)) return 'a host or port in the query string (libpq style)'
  if (host === '' || host.startsWith(':')) return 'a URL without a host (a Unix socket)'
  return null
}

const REASON_CODE = /^[A-Z][A-Z0-9_]*$/

/** SPOOL_MAX_BYTES must be at least this many times MAX_BODY_BYTES, plus 32 KiB (see loadConfig). */
export const SPOOL_BYTES_PER_BODY_BYTE = 8
/** The smallest SPOOL_MAX_BYTES for a MAX_BODY_BYTES: its largest bad row fits in an empty spool. */
export const minSpoolBytes = (maxBodyBytes: number): number => SPOOL_BYTES_PER_BODY_BYTE * maxBodyBytes + 32 * 1024

/**
 * The webhook URL's query parameters that become columns (aid, p, cv, nuid), from its query
 * string, or from the whole URL pasted in its place. Other parameters are ignored, as over
 * HTTP; a QUERY that sets none of the four is refused: read as no query, the whole webhook
 * URL gave every event a NULL app_id, for good (a replay or retry loads nothing twice).
 */
function webhookQuery(text: string | undefined): { query: Record<string, string> } | { issue: ConfigIssue } {
  if (text === undefined || text === '') return { query: {} }
  const params = new URLSearchParams(text.includes('?') ? text.slice(text.indexOf('?') + 1) : text)
  const query = Object.fromEntries([...params].filter(([k]) => QUERY_PARAMETERS.includes(k)))
  if (Object.keys(query).length > 0) return { query }
  return { issue: { option: 'QUERY', message: `sets none of ${QUERY_PARAMETERS.join(', ')}, got ${JSON.stringify(text)}: give the webhook URL's query string, such as aid=acme&p=srv` } }
}

function parseCommand(positionals: string[], flags: Set<string>): { command?: Command; issue?: ConfigIssue } {
  if (flags.has('--help') || flags.has('-h')) return { command: { name: 'help' } }
  if (flags.has('--version') || flags.has('-v')) return { command: { name: 'version' } }
  const [first, second, third, ...rest] = positionals
  // `collector --print` meant as "show me the DDL" would otherwise start a server, silently.
  if (flags.has('--print') && first !== 'migrate') return { issue: { option: '--print', message: 'only applies to migrate (collector migrate --print)' } }
  const extra = (args: string[]) => ({ issue: { option: 'command', message: `unexpected argument ${JSON.stringify(args[0])}` } })
  switch (first) {
    case undefined:
    case 'serve':
      return second === undefined ? { command: { name: 'serve' } } : extra([second])
    case 'migrate':
      return second === undefined ? { command: { name: 'migrate', print: flags.has('--print') } } : extra([second])
    case 'spool':
      if (second === 'status' && third === undefined) return { command: { name: 'spool-status' } }
      if (second === 'replay' && third !== undefined && rest.length <= 1) {
        // The query string of the subscription the file was recorded from (aid, p, cv, nuid),
        // so replayed events carry the app_id they would have had over HTTP.
        const query = webhookQuery(rest[0])
        return 'issue' in query ? query : { command: { name: 'spool-replay', file: third, query: query.query } }
      }
      return { issue: { option: 'command', message: 'expected "spool status" or "spool replay FILE.ndjson [QUERY]"' } }
    case 'bad-rows': {
      // `bad-rows retry [REASON ...] [QUERY]`: reason codes are upper case, a query has an `=`.
      const args = positionals.slice(2)
      const reasons = args.filter((a) => REASON_CODE.test(a))
      const queries = args.filter((a) => a.includes('='))
      const other = args.find((a) => !REASON_CODE.test(a) && !a.includes('='))
      if (second !== 'retry' || other !== undefined || queries.length > 1) {
        return { issue: { option: 'command', message: `expected "bad-rows retry [REASON ...] [QUERY]" (REASON a code such as UNKNOWN_EVENT_TYPE, QUERY such as aid=acme)${other !== undefined ? `, got ${JSON.stringify(other)}` : ''}` } }
      }
      const query = webhookQuery(queries[0])
      return 'issue' in query ? query : { command: { name: 'bad-rows-retry', reasons, query: query.query } }
    }
    case 'help':
      return { command: { name: 'help' } }
    default:
      return { issue: { option: 'command', message: `unknown command ${JSON.stringify(first)} (try --help)` } }
  }
}

const BOOLEAN_FLAGS = new Set(['--help', '-h', '--version', '-v', '--print'])

/** Splits argv into flag values, boolean flags and positionals; unknown flags are issues. */
function scanArgv(argv: readonly string[]) {
  const values = new Map<string, string>()
  const booleans = new Set<string>()
  const positionals: string[] = []
  const issues: ConfigIssue[] = []
  const known = new Map(OPTIONS.filter((o) => o.flag).map((o) => [o.flag as string, o]))
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('-')) { positionals.push(arg); continue }
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    if (BOOLEAN_FLAGS.has(name)) { booleans.add(name); continue }
    if (!known.has(name)) { issues.push({ option: name, message: 'unknown flag (try --help)' }); continue }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined) { issues.push({ option: name, message: 'needs a value' }); continue }
    values.set(name, value)
  }
  return { values, booleans, positionals, issues }
}

export function loadConfig(env: Record<string, string | undefined>, argv: readonly string[]): LoadResult {
  const scanned = scanArgv(argv)
  const issues = [...scanned.issues]
  const { command, issue } = parseCommand(scanned.positionals, scanned.booleans)
  if (issue) issues.push(issue)

  const raw: Record<string, unknown> = { ...DEFAULTS }
  const sourceOf = new Map<string, string>()
  for (const option of OPTIONS) {
    const fromFlag = option.flag ? scanned.values.get(option.flag) : undefined
    const value = fromFlag ?? env[option.env]
    if (value === undefined || (fromFlag === undefined && value === '')) continue
    const label = fromFlag !== undefined ? option.flag as string : option.env
    sourceOf.set(option.key, label)
    const parsed = option.parse(value)
    if (parsed.ok) raw[option.key] = parsed.value
    else issues.push({ option: label, message: parsed.message })
  }
  raw.dialect ??= defaultDialect(raw.databaseUrl as string | undefined)
  // Redshift folds identifiers to lower case, quoted or not (unless a cluster sets
  // enable_case_sensitive_identifier): DB_SCHEMA=Atomic creates "atomic" there, and the
  // writer must look its tables up under that name.
  if (raw.dialect === 'redshift' && typeof raw.dbSchema === 'string') raw.dbSchema = raw.dbSchema.toLowerCase()

  if (!checkConfig.Check(raw)) {
    for (const error of checkConfig.Errors(raw)) {
      const key = error.path.split('/')[1] ?? ''
      const option = OPTIONS.find((o) => o.key === key)
      const label = sourceOf.get(key) ?? option?.flag ?? option?.env ?? key
      if (issues.some((i) => i.option === label)) continue
      issues.push({ option: label, message: describeValueError(key, error.message, error.schema, error.value) })
    }
  }
  const socketForm = typeof raw.databaseUrl === 'string' ? unsupportedHostForm(raw.databaseUrl) : null
  if (typeof raw.databaseUrl === 'string' && !/^postgres(ql)?:\/\//.test(raw.databaseUrl)) {
    issues.push({ option: sourceOf.get('databaseUrl') ?? 'DATABASE_URL', message: 'must be a postgres:// or postgresql:// URL' })
  } else if (socketForm !== null) {
    issues.push({ option: sourceOf.get('databaseUrl') ?? 'DATABASE_URL', message: `${socketForm} is not supported: give one server over TCP in the URL, postgres://user:password@127.0.0.1:5432/db (on the same host, 127.0.0.1 and a host line in pg_hba.conf)` })
  } else if (typeof raw.databaseUrl === 'string' && !URL.canParse(raw.databaseUrl)) {
    issues.push({ option: sourceOf.get('databaseUrl') ?? 'DATABASE_URL', message: 'is not a valid URL (check the port, and brackets around an IPv6 address)' })
  } else if (typeof raw.databaseUrl === 'string') {
    const tls = tlsSettings(raw.databaseUrl, raw.dialect === 'redshift' ? 'redshift' : 'postgres')
    if ('issue' in tls) issues.push({ option: sourceOf.get('databaseUrl') ?? 'DATABASE_URL', message: tls.issue })
  }
  // Limits where 0 is "never": anything from 1 to 999 is seconds typed as milliseconds.
  for (const [key, env] of [['dbWriteTimeoutMs', 'DB_WRITE_TIMEOUT_MS'], ['embeddedStallRestartMs', 'EMBEDDED_STALL_RESTART_MS']] as const) {
    const ms = raw[key]
    if (typeof ms === 'number' && ms > 0 && ms < 1000) issues.push({ option: sourceOf.get(key) ?? env, message: `is in milliseconds: 0 (never) or at least 1000, got ${ms}` })
  }
  // A rejected body is kept whole in a bad row, JSON-escaped in the spool: a control character
  // takes 6 bytes there. A record larger than the whole budget would never fit, and that
  // request would get 503 for good; 8x leaves room for the escaping and the rest of the row,
  // and the request column (query values and headers, cut to their columns' widths) beside it.
  // Not when either is already refused (out of its range): that line says it.
  const refusedAlready = (key: keyof Config) => issues.some((i) => i.option === (sourceOf.get(key) ?? OPTIONS.find((o) => o.key === key)?.env))
  if (typeof raw.spoolMaxBytes === 'number' && typeof raw.maxBodyBytes === 'number' && !refusedAlready('spoolMaxBytes') && !refusedAlready('maxBodyBytes') && raw.spoolMaxBytes < minSpoolBytes(raw.maxBodyBytes)) {
    // Named after the one set: SPOOL_MAX_BYTES when both (or neither) are.
    const which = sourceOf.has('maxBodyBytes') && !sourceOf.has('spoolMaxBytes') ? 'maxBodyBytes' : 'spoolMaxBytes'
    issues.push({ option: sourceOf.get(which) ?? (which === 'spoolMaxBytes' ? 'SPOOL_MAX_BYTES' : 'MAX_BODY_BYTES'), message: `SPOOL_MAX_BYTES (${raw.spoolMaxBytes}) must be at least ${SPOOL_BYTES_PER_BODY_BYTE} x MAX_BODY_BYTES (${raw.maxBodyBytes}) + 32KiB, ${minSpoolBytes(raw.maxBodyBytes)}: a rejected body is kept in the spool as a bad row, JSON-escaped (up to 6x its size) beside its query string and headers, and one that could never fit would get 503 for good; raise SPOOL_MAX_BYTES or lower MAX_BODY_BYTES (PagerDuty's webhooks are a few KiB)` })
  }
  if (typeof raw.dbSchema === 'string' && /^pg_/i.test(raw.dbSchema)) {
    issues.push({ option: sourceOf.get('dbSchema') ?? 'DB_SCHEMA', message: 'must not start with pg_ (reserved for system schemas)' })
  }
  if (raw.signedOnly === true && Array.isArray(raw.webhookSecrets) && raw.webhookSecrets.length === 0 && !issues.some((i) => i.option === 'PAGERDUTY_WEBHOOK_SECRETS')) {
    issues.push({ option: 'PAGERDUTY_SIGNED_ONLY', message: 'needs PAGERDUTY_WEBHOOK_SECRETS: without a secret no signature can be checked, and every webhook would get 401' })
  }
  if (raw.databaseUrl !== undefined && raw.embeddedPgPort !== undefined) {
    issues.push({ option: sourceOf.get('embeddedPgPort') ?? '--embedded-pg-port', message: 'only applies to the embedded database; unset DATABASE_URL or drop it' })
  }
  const source = (key: keyof Config): string => {
    const option = OPTIONS.find((o) => o.key === key)
    return sourceOf.get(key) ?? option?.env ?? key
  }
  if (issues.length > 0 || !command) {
    const refused = new Set(OPTIONS.filter((o) => issues.some((i) => i.option === source(o.key) || i.option === o.flag || i.option === o.env)).map((o) => o.key))
    return { ok: false, issues, partial: { command: command ?? null, config: raw as Config, refused, source } }
  }
  return { ok: true, command, config: raw as Config, source }
}

/** The settings given as byte sizes (`bytes` above), whose bounds read better in KiB, MiB, GiB. */
const BYTE_KEYS: ReadonlySet<string> = new Set(OPTIONS.filter((o) => o.parse === bytes).map((o) => o.key))

/** 1024 -> "1KiB", 1536 -> "1536B": the largest binary unit that divides it. */
function sizeText(n: number): string {
  const units = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const
  const unit = units.find(([, size]) => n !== 0 && n % size === 0)
  return unit ? `${n / unit[1]}${unit[0]}` : `${n}B`
}

/**
 * A number out of its range, said with both bounds and the value given ("must be an integer
 * from 1 to 100000, got 0"), not TypeBox's "expected integer to be greater or equal to 1",
 * which names one bound and not the value. Null for any other error.
 */
function rangeError(key: string, schema: unknown, value: unknown): string | null {
  const { type, minimum, maximum } = (schema ?? {}) as { type?: unknown; minimum?: unknown; maximum?: unknown }
  if (type !== 'integer' || typeof minimum !== 'number' || typeof maximum !== 'number' || typeof value !== 'number' || !Number.isInteger(value)) return null
  const text = BYTE_KEYS.has(key) ? sizeText : String
  return maximum >= Number.MAX_SAFE_INTEGER ? `must be at least ${text(minimum)}, got ${text(value)}` : `must be ${BYTE_KEYS.has(key) ? 'a size' : 'an integer'} from ${text(minimum)} to ${text(maximum)}, got ${text(value)}`
}

function describeValueError(key: string, message: string, schema?: unknown, value?: unknown): string {
  switch (key) {
    case 'dialect': return 'must be postgres or redshift'
    case 'logLevel': return 'must be debug, info, warn or error'
    // The length too: a 64-character name of letters was told it was not letters.
    case 'dbSchema': return 'must be a plain SQL identifier (letters, digits, underscore; not starting with a digit; at most 63 characters)'
    // With the value given, as every other number out of range is (rangeError).
    case 'port':
    case 'embeddedPgPort': return `must be a port number from 0 to 65535${typeof value === 'number' ? `, got ${value}` : ''}`
    default: return rangeError(key, schema, value) ?? message.toLowerCase()
  }
}

export function helpText(version: string): string {
  const rows = OPTIONS.map((o) => `  ${(o.flag ?? '').padEnd(22)} ${o.env.padEnd(26)} ${o.describe}`)
  return [
    `collector ${version}: PagerDuty webhooks (v1, v2, v3) into PostgreSQL or Redshift`,
    '',
    'Usage:',
    '  collector [serve] [flags]       receive webhooks (default command)',
    '  collector migrate [--print]     create or upgrade the tables, then exit (--print: only print the DDL)',
    '  collector spool status          print the spool backlog',
    '  collector spool replay FILE [QUERY]',
    '                                  load recorded webhooks, one raw JSON body per line; QUERY is',
    '                                  the webhook URL\'s query string (aid=acme&p=srv), as over HTTP',
    '  collector bad-rows retry [REASON ...] [QUERY]',
    '                                  run atomic.bad_rows (those with a REASON given, else all) through',
    '                                  this version again; what loads now leaves bad_rows. Events get',
    '                                  back their row\'s request (app_id etc.); QUERY (aid=acme) fills',
    '                                  in what a row lacks',
    '  collector --help | --version',
    '',
    'Flags and environment variables (a flag wins over its variable):',
    ...rows,
    '',
    'Bad configuration exits with status 2 and one line per problem.',
  ].join('\n')
}
