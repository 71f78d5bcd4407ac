/**
 * The HTTP edge: routes, limits, and the answer to each webhook. A 2xx is sent only after the
 * request's events (and bad rows) are fsync'd in the spool; anything that cannot be made
 * durable is a 503 with Retry-After; malformed requests get a 4xx and their raw body still
 * goes to bad rows.
 */
import type { Server } from 'bun'
import type { Registry } from '../adapters/registry.ts'
import type { Adapter, Issue } from '../adapters/types.ts'
import { webhookShape } from '../adapters/pagerduty/adapter.ts'
import { badRow } from '../events/bad-row.ts'
import { keptBody } from '../events/raw-body.ts'
import { QUERY_PARAMETERS, type BadRow, type RequestContext } from '../events/event.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { encodeRecord, encodeRequest, requestParts, type RecordBody } from '../sink/records.ts'
import type { Payload } from '../spool/frame.ts'
import { contentProblem, parseBody, readLimited } from './body.ts'
import { ERROR_STATUS, answer, errorResponse, json, type Answer, type ErrorCode } from './responses.ts'
import { verifySignature, type Denied } from './auth.ts'
import { rateLimited } from '../log.ts'

/** One info line per bad-row reason per minute at most: a flood of bad webhooks must not flood the log. */
const REASON_LOG_INTERVAL_MS = 60_000

/**
 * Every status each route can answer, by the route's kind: a webhook route is one of the
 * registry's (`/com.pagerduty/v1`, ...), `other` any path without a route. The metrics
 * start each (route, status) series at 0, since one born at its first request hides that
 * request from `rate()` and `increase()`. Each route's answers are typed by its list here
 * (`Answer`), so an answer the code can give that its list lacks does not compile. `other`
 * also counts the 503 of a request whose handling failed unexpectedly, whatever its path.
 */
export const ROUTE_STATUSES = {
  '/health': [200, 405],
  '/ready': [200, 405, 503],
  // 404: a handler given no metrics (tests); the collector always has them.
  '/metrics': [200, 404, 405],
  webhook: [202, 400, 401, 405, 413, 415, 499, 503],
  other: [404, 503],
} as const

type RouteKind = keyof typeof ROUTE_STATUSES
type AnswerOf<K extends RouteKind> = Answer<(typeof ROUTE_STATUSES)[K][number]>
type ProbeRoute = '/health' | '/ready' | '/metrics'

/** A request routed: the route's name (a webhook route's path, or the kind) and its answer. */
type Routed = { [K in ProbeRoute | 'other']: { route: K; response: AnswerOf<K> } }[ProbeRoute | 'other'] | { route: `/${string}/${string}`; response: AnswerOf<'webhook'> }

/** Every (route, status) the server can answer, given the webhook routes: the request counter's series. */
export function routeAnswers(webhookRoutes: readonly string[]): { route: string; status: number }[] {
  const named = (Object.keys(ROUTE_STATUSES) as RouteKind[]).filter((kind) => kind !== 'webhook')
  return [...webhookRoutes.map((route) => [route, ROUTE_STATUSES.webhook] as const), ...named.map((kind) => [kind, ROUTE_STATUSES[kind]] as const)]
    .flatMap(([route, statuses]) => statuses.map((status) => ({ route, status })))
}

export interface HttpMetrics {
  request(route: string, status: number, seconds: number): void
  accepted(version: string, events: number, badRows: number, pings: number): void
  authFailure(kind: string): void
}

export interface HttpDeps {
  registry: Registry
  /**
   * Makes a record durable (the spool): `requestParts` or `encodeRecord` text, its event
   * count, and what it decodes to (the writer takes that from memory while it is held).
   */
  append(record: Payload, events: number, decoded: RecordBody): Promise<void>
  ready(): { ready: boolean; body: unknown }
  metricsText?(): string | Promise<string>
  /** Basic auth for every version, when BASIC_AUTH_USERS is set. */
  basicAuth?: (req: Request) => Denied | null
  /** PAGERDUTY_WEBHOOK_SECRETS: when non-empty, v3 deliveries must be signed. */
  webhookSecrets: readonly string[]
  /** PAGERDUTY_SIGNED_ONLY: every webhook must be signed, whatever its shape (v1/v2 never are). */
  signedOnly?: boolean
  maxBodyBytes: number
  /**
   * Bytes of webhook bodies read or handled at once (each counted at its Content-Length, or
   * MAX_BODY_BYTES when chunked); a webhook that would go past it gets 503 before any of its
   * body is read. Default bodiesInFlightMax(maxBodyBytes).
   */
  maxBodiesInFlightBytes?: number
  /** Bun.serve's idleTimeout: a body still arriving this long after its headers was cut by it, not by the client. */
  idleTimeoutSeconds?: number
  shuttingDown(): boolean
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void
  metrics?: HttpMetrics
  now?: () => Date
  newRequestId?: () => string
}

/** A v3 delivery, told apart as the adapter tells it (one rule: what is signed is what loads as v3). */
const isV3Body = (body: unknown): boolean => webhookShape(body) === 'event'

/**
 * Bodies in flight at once, by default: 64 MiB, or two of the largest when MAX_BODY_BYTES is
 * over 32 MiB. Unbounded, 300 uploads of 1 MiB stalled mid-body held 406 MiB of RSS until
 * Bun's idle timeout cut them.
 */
export const bodiesInFlightMax = (maxBodyBytes: number): number => Math.max(64 * 1024 * 1024, 2 * maxBodyBytes)

/**
 * A body up to this size always goes ahead (and counts toward the bound): PagerDuty's webhooks
 * are a few KiB, so large or stalled uploads cannot get them refused, and what a flood of
 * small ones holds is 64 KiB per connection at most.
 */
export const SMALL_BODY_BYTES = 64 * 1024

/** What a body will hold at most while read: its Content-Length up to the cap, or the cap (chunked, or no valid length). */
function claimOf(req: Request, maxBodyBytes: number): number {
  const declared = Number(req.headers.get('content-length') ?? NaN)
  return Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxBodyBytes) : maxBodyBytes
}

const WEBHOOK_PATH = /^\/([^/]+)\/([^/]+)\/?$/

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A header's value as the text its sender wrote. Bun gives each byte of a header as one
 * character (the Fetch standard's byte strings, Latin-1), while clients send non-ASCII
 * header text as UTF-8 (RFC 9110 section 5.5 leaves those bytes to the recipient): read
 * as sent, "café" would load as "cafÃ©". Bytes that are not UTF-8 stay as they came.
 */
export function headerText(value: string | null): string | null {
  if (value === null || !/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value
  try {
    return strictUtf8.decode(Buffer.from(value, 'latin1'))
  } catch {
    return value
  }
}

function clientIp(req: Request, server: Server<unknown>): string | null {
  // Behind a load balancer the first X-Forwarded-For entry is the client (Snowplow does the same).
  const forwarded = req.headers.get('x-forwarded-for')?.split(',')[0]?.trim()
  return forwarded || server.requestIP(req)?.address || null
}

/**
 * The request target as a URL. Bun leaves `req.url` relative (`/health`) when the Host header
 * is missing (HTTP/1.0) or empty, and builds one that does not parse from a Host such as
 * `a:b:c`: the path and query are all that is used, so they are read against a stand-in host.
 */
export function requestUrl(raw: string): URL {
  try {
    return new URL(raw)
  } catch {
    const scheme = raw.indexOf('://')
    const slash = scheme === -1 ? raw.indexOf('/') : raw.indexOf('/', scheme + 3)
    return new URL(slash === -1 ? '/' : raw.slice(slash), 'http://host.invalid')
  }
}

/**
 * A path in its normal form: percent-encoded unreserved characters (letters, digits, `-._~`)
 * decoded, since `/com.pagerduty/v%31` is the same URI as `/com.pagerduty/v1` (RFC 9110
 * section 4.2.3, RFC 3986 section 6.2.2.2) and a 404 for it would be a delivery PagerDuty
 * drops. Reserved ones (`%2F`) stay encoded: they are data, not delimiters.
 */
export function normalPath(path: string): string {
  if (!path.includes('%')) return path
  return path.replace(/%([0-9A-Fa-f]{2})/g, (escape, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16))
    return /[A-Za-z0-9\-._~]/.test(c) ? c : escape
  })
}

function queryOf(url: URL): Record<string, string> {
  const query: Record<string, string> = {}
  for (const key of QUERY_PARAMETERS) {
    const value = url.searchParams.get(key)
    if (value !== null) query[key] = value
  }
  return query
}

export function createHandler(deps: HttpDeps) {
  const now = deps.now ?? (() => new Date())
  const newRequestId = deps.newRequestId ?? (() => crypto.randomUUID())
  const logReason = rateLimited(deps.log, REASON_LOG_INTERVAL_MS)
  const maxInFlight = deps.maxBodiesInFlightBytes ?? bodiesInFlightMax(deps.maxBodyBytes)
  let bodiesInFlight = 0

  /**
   * A 4xx is final for PagerDuty (it drops the delivery), so it is answered only once the raw
   * body is durable in bad rows. When the spool cannot take it (full, failing, not keeping
   * up), the answer is the 503 a webhook would get, and the sender tries again later.
   */
  async function reject<C extends ErrorCode>(ctx: RequestContext, code: C, message: string, issues: Issue[], bytes: Uint8Array, version: string | null, body: { charset?: string; contentEncoding?: string | null } = {}): Promise<Answer<(typeof ERROR_STATUS)[C] | 503>> {
    // A body cut at MAX_BODY_BYTES can end inside a URL's password, before the `@`, or inside
    // a character. A compressed body is inflated to look for credentials as far as a body the
    // collector takes, MAX_BODY_BYTES; past it, it is kept as it came (its URLs in plain sight
    // redacted). What it inflates to is redacted on the event loop: inflated up to 8 times that,
    // a 48 KiB gzip of 8 MiB of escaped URLs held every request 2.4-3.6 s; a 1 MiB gzip of
    // 1 GiB (a bomb) stops at the bound in milliseconds.
    const { payload, encoding } = keptBody(bytes, { ...body, cut: code === 'PAYLOAD_TOO_LARGE', maxInflatedBytes: deps.maxBodyBytes })
    try {
      const decoded = { events: [], badRows: [badRow(ctx, 'request', code, [{ path: '', message }, ...issues], version, payload, encoding)] }
      await deps.append(encodeRecord(decoded), 0, decoded)
    } catch (error) {
      return unavailable(error)
    }
    // The message can quote the body (a JSON parse error names the offending token), and
    // bodies can hold personal data: info lines carry the code only, the message is debug.
    logReason(`rejected/${code}`, 'info', 'webhook rejected: raw body sent to bad rows', { reason: code, status: ERROR_STATUS[code] })
    deps.log('debug', 'webhook rejected', { reason: code, message })
    return errorResponse(code, message, issues)
  }

  function unavailable(error: unknown): Answer<503> {
    const code = error instanceof CollectorError && (error.code === 'SPOOL_FULL' || error.code === 'SPOOL_CLOSED') ? error.code : 'SPOOL_IO'
    logReason(`refused/${code}`, 'warn', 'webhook refused: cannot make it durable', { code, error: errorMessage(error) })
    return errorResponse(code, error instanceof CollectorError ? error.message : 'cannot make the event durable')
  }

  /**
   * The client hung up before its body arrived: nothing to store and no one to answer. Not a
   * server error (a 5xx would count toward the error alerts): 499 in the metrics, one info
   * line a minute. A sender that did not get a 2xx sends it again.
   */
  function clientClosed(waitedMs: number): Answer<499> {
    // Bun's idle timeout cuts a body that has not all arrived in time: said as such, since
    // "the client closed" sent operators looking at the sender for what the collector did.
    // Bun's idle timer is coarse (uSockets counts it in 4 s ticks): the cut comes 26-30 s in (28.7-29
    // s measured), so a hang-up in those last seconds is put down to the timeout too.
    const idle = deps.idleTimeoutSeconds
    if (idle !== undefined && waitedMs >= (idle - 4) * 1000) {
      logReason('body-timeout', 'info', `webhook abandoned: its body had not all arrived ${idle} s after its headers (the idle timeout), so the collector closed the connection; nothing stored`)
    } else {
      logReason('client-closed', 'info', 'webhook abandoned: the client closed the connection before its body arrived; nothing stored')
    }
    return errorResponse('CLIENT_CLOSED_REQUEST', 'the connection closed before the body arrived')
  }

  /** 401 and nothing stored: only a counter and a log line. */
  function unauthorized(denied: Denied): Answer<401> {
    deps.metrics?.authFailure(denied.kind)
    logReason(`unauthorized/${denied.kind}`, 'warn', 'webhook unauthorized', { kind: denied.kind })
    return errorResponse(denied.code, denied.message, [], denied.headers)
  }

  async function webhook(req: Request, server: Server<unknown>, url: URL, adapter: Adapter, vendor: string, version: string): Promise<AnswerOf<'webhook'>> {
    if (deps.shuttingDown()) return errorResponse('SPOOL_CLOSED', 'the collector is shutting down')
    const ctx: RequestContext = {
      receivedAt: now(),
      query: queryOf(url),
      ipAddress: clientIp(req, server),
      userAgent: headerText(req.headers.get('user-agent')),
      webhookId: headerText(req.headers.get('x-webhook-id')),
      requestId: newRequestId(),
    }
    const basicDenied = deps.basicAuth?.(req)
    if (basicDenied) return unauthorized(basicDenied)
    // Counted from before the body is read until the answer: a flood of large or stalled
    // uploads gets 503 (a sender retries it) instead of holding memory for every connection.
    // A small body, or one webhook alone however large, always goes ahead.
    const claim = claimOf(req, deps.maxBodyBytes)
    if (claim > SMALL_BODY_BYTES && bodiesInFlight > 0 && bodiesInFlight + claim > maxInFlight) {
      logReason('refused/BODIES_IN_FLIGHT', 'warn', 'webhook refused: too many bytes of webhook bodies are arriving at once (slow or stalled uploads?)', { in_flight_bytes: bodiesInFlight, content_length: claim, max_bytes: maxInFlight })
      return errorResponse('BODIES_IN_FLIGHT', `${bodiesInFlight} bytes of webhook bodies are being read already; one of ${claim} bytes would pass ${maxInFlight}: retry later`)
    }
    bodiesInFlight += claim
    try {
      return await handleBody(req, adapter, ctx, vendor, version)
    } finally {
      bodiesInFlight -= claim
    }
  }

  async function handleBody(req: Request, adapter: Adapter, ctx: RequestContext, vendor: string, version: string): Promise<AnswerOf<'webhook'>> {
    const reading = performance.now()
    let read: Awaited<ReturnType<typeof readLimited>>
    try {
      read = await readLimited(req, deps.maxBodyBytes)
    } catch (error) {
      if (!req.signal.aborted) throw error
      return clientClosed(performance.now() - reading)
    }
    const { bytes, tooLarge } = read
    // Signed only: what is unsigned is refused before anything of it is kept (no bad row
    // from a sender without the secret), a body cut at MAX_BODY_BYTES included.
    if (deps.signedOnly) {
      const denied = tooLarge ? { kind: 'signature_missing' as const, code: 'INVALID_SIGNATURE' as const, message: `body is larger than MAX_BODY_BYTES (${deps.maxBodyBytes} bytes): its signature cannot be checked`, headers: {} } : verifySignature(deps.webhookSecrets, req.headers.get('x-pagerduty-signature'), bytes)
      if (denied) return unauthorized(denied)
    }
    const contentEncoding = req.headers.get('content-encoding')
    const problem = contentProblem(req.headers.get('content-type'), contentEncoding)
    // Its first MAX_BODY_BYTES are kept as a 415's body is: in the charset it declared, if not
    // UTF-8, and as base64 if compressed (src/events/raw-body.ts).
    const refused = { ...(problem?.charset === undefined ? {} : { charset: problem.charset }), contentEncoding }
    if (tooLarge) return reject(ctx, 'PAYLOAD_TOO_LARGE', `body is larger than MAX_BODY_BYTES (${deps.maxBodyBytes} bytes)`, [], bytes, null, refused)
    if (problem) return reject(ctx, 'UNSUPPORTED_MEDIA_TYPE', problem.message, [{ path: `/headers/${problem.header}`, message: `expected ${problem.expected}` }], bytes, null, refused)
    const body = parseBody(bytes)
    if (!body.ok) return reject(ctx, body.code, body.message, [], bytes, null)

    if (deps.webhookSecrets.length > 0 && !deps.signedOnly && isV3Body(body.json)) {
      const denied = verifySignature(deps.webhookSecrets, req.headers.get('x-pagerduty-signature'), bytes)
      if (denied) return unauthorized(denied)
    }
    const result = adapter.toEvents({ body: body.json, rawBody: body.text, ctx })
    if (!result.ok) return reject(ctx, result.code, result.message, result.issues, bytes, result.version)
    // What the answer needs, taken now: nothing after the append's await refers to `result`
    // or `body`, so their memory (the built rows, the parsed JSON: ~36 MB for a 1 MiB v1
    // webhook of ~15,000 tiny messages) is not held while the group waits for its fsync.
    const { version: bodyVersion, pings, badRows } = result
    const accepted = result.events.length
    const warnings = result.warnings ?? []
    const badMessages = result.badMessages ?? badRows.length
    if (accepted > 0 || badRows.length > 0) {
      try {
        // Stored as received (secrets replaced, if it held any); the writer builds the same
        // events from it (src/sink/records.ts).
        const request = { vendor, version, ctx }
        const record = result.storedBody === undefined ? requestParts(request, body.bytes) : encodeRequest(request, result.storedBody)
        await deps.append(record, accepted, { events: result.events, badRows })
      } catch (error) {
        return unavailable(error)
      }
    }
    // `bad` in the answer and collector_events_bad_total count messages, as `accepted` does: a
    // batch past the cap is one TOO_MANY_BAD_MESSAGES row for them all, and "bad": 1 for 150
    // failed messages read as if the other 149 had vanished.
    deps.metrics?.accepted(bodyVersion, accepted, badMessages, pings)
    for (const warning of warnings) logReason(`warning${warning.path}`, 'warn', 'webhook loaded with a default: fix the webhook URL', { path: warning.path, message: warning.message })
    for (const row of badRows) logReason(`bad/${row.version}/${row.reason}`, 'info', 'webhook message sent to bad rows', { reason: row.reason, version: row.version })
    return json(202, { accepted, bad: badMessages, pings, version: bodyVersion })
  }

  async function route(req: Request, server: Server<unknown>): Promise<Routed> {
    const url = requestUrl(req.url)
    const path = normalPath(url.pathname)
    const get = req.method === 'GET' || req.method === 'HEAD'
    if (path === '/health' || path === '/ready' || path === '/metrics') {
      if (!get) return { route: path, response: errorResponse('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use GET`, [], { allow: 'GET, HEAD' }) }
      if (path === '/health') return { route: path, response: json(200, { status: 'ok' }) }
      if (path === '/ready') {
        const { ready, body } = deps.ready()
        return { route: path, response: json(ready ? 200 : 503, body) }
      }
      if (!deps.metricsText) return { route: path, response: errorResponse('NOT_FOUND', 'metrics are not enabled') }
      return { route: path, response: answer(200, await deps.metricsText(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }) }
    }
    const match = WEBHOOK_PATH.exec(path)
    const [vendor, version] = [match?.[1] ?? '', match?.[2] ?? '']
    const adapter = match ? deps.registry.lookup(vendor, version) : undefined
    if (adapter) {
      const routeName = `/${vendor}/${version}` as const
      if (req.method !== 'POST') return { route: routeName, response: errorResponse('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; PagerDuty sends POST`, [], { allow: 'POST' }) }
      return { route: routeName, response: await webhook(req, server, url, adapter, vendor, version) }
    }
    return { route: 'other', response: errorResponse('NOT_FOUND', `no route for ${path}; PagerDuty webhooks go to POST /com.pagerduty/v1`) }
  }

  return async function fetch(req: Request, server: Server<unknown>): Promise<Response> {
    const started = performance.now()
    let routeName = 'other'
    let response: Response
    try {
      const routed = await route(req, server)
      routeName = routed.route
      response = routed.response
    } catch (error) {
      // Never crash and never 2xx on an unexpected failure: 503 lets PagerDuty retry.
      deps.log('error', 'unexpected error handling a request', { error: errorMessage(error), stack: (error as Error)?.stack })
      response = errorResponse('SPOOL_IO', 'internal error; retry later')
    }
    deps.metrics?.request(routeName, response.status, (performance.now() - started) / 1000)
    return response
  }
}
