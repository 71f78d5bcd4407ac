/**
 * The PagerDuty adapter: one endpoint for every webhook version, told apart by shape
 * (v1: `messages[].type`, v2: `messages[].event`, v3: top-level `event`). Where Snowplow
 * fails a whole request for one bad message, we load the good messages and send each bad
 * one to bad rows: PagerDuty drops 4xx deliveries and disables the subscription after three.
 */
import type { BadRow, BuiltEvent, RequestContext } from '../../events/event.ts'
import { PLATFORMS } from '../../events/event.ts'
import { badRow, rawPayload } from '../../events/bad-row.ts'
import { withoutUserinfo } from '../../events/redact.ts'
import { mayHoldUnstorable, storableJson, storableString } from '../../events/storable.ts'
import type { Adapter, AdapterInput, AdapterResult, Issue } from '../types.ts'
import type { MessageOutcome } from './message.ts'
import { v1Message } from './v1.ts'
import { v2Message } from './v2.ts'
import { isPing, v3Event } from './v3.ts'

export const VENDOR = 'com.pagerduty'

const platforms = new Set<string>(PLATFORMS)

/**
 * `aid`, `p`, `cv`, `nuid` as the rows use them: every value storable, `p` one of Snowplow's
 * codes (any case). Any other `p` loads as the default `srv` with a warning: the URL is the
 * same for every delivery of a subscription, and answering 4xx would make PagerDuty drop
 * them all and disable it after three.
 */
export function normalizeQuery(query: Record<string, string>): { query: Record<string, string>; warnings: Issue[] } {
  let out = query
  const warnings: Issue[] = []
  for (const key in query) {
    const value = query[key] as string
    let fixed = storableString(value)
    if (key === 'p' && !platforms.has(fixed)) {
      const lower = fixed.toLowerCase()
      if (platforms.has(lower)) fixed = lower
      else {
        warnings.push({ path: '/query/p', message: `platform must be one of ${PLATFORMS.join(', ')}; got ${JSON.stringify(value.slice(0, 64))}: loaded as srv` })
        fixed = 'srv'
      }
    }
    if (fixed !== value) {
      if (out === query) out = { ...query }
      out[key] = fixed
    }
  }
  return { query: out, warnings }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

type MessageBuilder = (raw: Record<string, unknown>, index: number, ctx: RequestContext, collectorVersion: string) => MessageOutcome

/** Which builder a `messages[]` element belongs to, by its discriminating key. */
function messageVersion(message: Record<string, unknown>): { version: string; build: MessageBuilder } | null {
  if ('type' in message) return { version: 'v1', build: v1Message }
  if ('event' in message) return { version: 'v2', build: v2Message }
  return null
}

/**
 * A v2 message names the subscription's endpoint (`webhook.endpoint_url`), and the README
 * tells v1/v2 users to put basic-auth credentials in that URL: they are replaced by `***`
 * before the message is stored anywhere (raw_message, bad rows). Nothing else is changed.
 */
export function withoutUrlCredentials(message: unknown): unknown {
  if (!isObject(message) || !isObject(message.webhook) || typeof message.webhook.endpoint_url !== 'string') return message
  const url = message.webhook.endpoint_url
  const redacted = withoutUserinfo(url)
  return redacted === url ? message : { ...message, webhook: { ...message.webhook, endpoint_url: redacted } }
}

/**
 * Bad rows one request may make, one per message; past it, the request's messages that failed
 * become one bad row holding the whole body. A bad row costs ~1.4 KB of memory whatever its
 * message's size: 1 MiB of `{},` made 350,000 of them (500 MB). PagerDuty's own batches are a
 * few messages.
 */
export const MAX_BAD_ROWS_PER_REQUEST = 100

function fromMessages(messages: unknown[], input: AdapterInput, collectorVersion: string): AdapterResult {
  const events: BuiltEvent[] = []
  let badRows: BadRow[] = []
  let failed = 0
  /** The issues of the rows kept, for the one row that replaces them past the cap. */
  const issuesKept: Issue[] = []
  const rejected = (position: string, reason: string, issues: Issue[], version: string | null, payload: () => string) => {
    if (++failed > MAX_BAD_ROWS_PER_REQUEST) return
    badRows.push(badRow(input.ctx, position, reason, issues, version, payload()))
    issuesKept.push(...issues)
  }
  const versions = new Set<string>()
  if (messages.length === 0) {
    return { ok: false, code: 'NOT_PAGERDUTY', message: 'field `messages` is an empty array: no events to process', issues: [{ path: '/messages', message: 'must hold at least one message' }], version: null }
  }
  if (!messages.some(isObject)) {
    return { ok: false, code: 'NOT_PAGERDUTY', message: 'field `messages` holds no objects', issues: [{ path: '/messages', message: 'must be an array of message objects' }], version: null }
  }
  let redacted = false
  messages.forEach((received, index) => {
    const message = withoutUrlCredentials(received)
    if (message !== received) redacted = true
    // Only a bad row keeps the message's text here (an event's row has it as raw_message).
    const payload = () => JSON.stringify(message) ?? 'null'
    if (!isObject(message)) {
      rejected(String(index), 'INVALID_MESSAGE', [{ path: `/messages/${index}`, message: 'must be an object' }], null, payload)
      return
    }
    const kind = messageVersion(message)
    if (!kind) {
      rejected(String(index), 'UNKNOWN_WEBHOOK_VERSION', [{ path: `/messages/${index}`, message: 'cannot tell the webhook version: neither `type` (v1) nor `event` (v2)' }], null, payload)
      return
    }
    versions.add(kind.version)
    const outcome = kind.build(message, index, input.ctx, collectorVersion)
    if (outcome.ok) events.push(outcome.event)
    else rejected(String(index), outcome.reason, outcome.issues, kind.version, payload)
  })
  const version = [...versions].sort().join('+') || 'unknown'
  // Credentials must not rest on disk either: the spool keeps the body with them replaced.
  const storedBody = redacted ? JSON.stringify({ ...(input.body as object), messages: messages.map(withoutUrlCredentials) }) : undefined
  if (failed > MAX_BAD_ROWS_PER_REQUEST) {
    const issues = [{ path: '/messages', message: `${failed} of ${messages.length} messages could not be loaded; the first ${MAX_BAD_ROWS_PER_REQUEST} issues follow, the body holds them all` }, ...issuesKept.slice(0, MAX_BAD_ROWS_PER_REQUEST)]
    // The body as the spool stores it: the writer, building the row again from there, must
    // make the same payload (its id is made of it).
    badRows = [badRow(input.ctx, 'request', 'TOO_MANY_BAD_MESSAGES', issues, versions.size > 0 ? version : null, rawPayload(storedBody ?? input.rawBody))]
  }
  return { ok: true, version, events, badRows, pings: 0, ...(failed > MAX_BAD_ROWS_PER_REQUEST ? { badMessages: failed } : {}), ...(storedBody === undefined ? {} : { storedBody }) }
}

/** A v3 delivery: exactly one event (developer docs, webhooks/02-Behavior.md "Batching"). */
function fromV3(event: Record<string, unknown>, input: AdapterInput, collectorVersion: string): AdapterResult {
  if (isPing(event)) return { ok: true, version: 'v3', events: [], badRows: [], pings: 1 }
  const outcome = v3Event(event, input.ctx, collectorVersion)
  if (outcome.ok) return { ok: true, version: 'v3', events: [outcome.event], badRows: [], pings: 0 }
  return { ok: true, version: 'v3', events: [], badRows: [badRow(input.ctx, 'event', outcome.reason, outcome.issues, 'v3', JSON.stringify(event))], pings: 0 }
}

/**
 * Which PagerDuty shape a body has (DESIGN.md: v1/v2 by `messages[]`, v3 by a top-level
 * `event`): `messages` holding a message object wins; else an `event` object is v3; else a
 * `messages` array (empty, or of no objects) is a v1/v2 batch with nothing in it, refused as
 * such. The signature check asks the same question, so what is checked as v3 is what loads
 * as v3.
 */
export function webhookShape(body: unknown): 'messages' | 'event' | null {
  if (!isObject(body)) return null
  const messages = Array.isArray(body.messages) ? body.messages : null
  if (messages?.some(isObject)) return 'messages'
  if (isObject(body.event)) return 'event'
  return messages ? 'messages' : null
}

export function createPagerDutyAdapter(collectorVersion: string): Adapter {
  return {
    vendor: VENDOR,
    versions: ['v1', 'v2', 'v3'],
    toEvents(received: AdapterInput): AdapterResult {
      const { query, warnings } = normalizeQuery(received.ctx.query)
      const body = mayHoldUnstorable(received.rawBody) ? storableJson(received.body) : received.body
      const input = query === received.ctx.query && body === received.body ? received : { ...received, body, ctx: { ...received.ctx, query } }
      const shape = webhookShape(body)
      const result = shape === 'messages' ? fromMessages((body as { messages: unknown[] }).messages, input, collectorVersion)
        : shape === 'event' ? fromV3((body as { event: Record<string, unknown> }).event, input, collectorVersion)
        : null
      if (result) {
        if (result.ok && warnings.length > 0) result.warnings = warnings
        return result
      }
      return {
        ok: false,
        code: 'NOT_PAGERDUTY',
        message: 'not a PagerDuty webhook: expected {"messages": [...]} (v1, v2) or {"event": {...}} (v3)',
        issues: [{ path: isObject(body) ? '/messages' : '', message: isObject(body) ? 'field `messages` is not an array' : 'body must be a JSON object' }],
        version: null,
      }
    },
  }
}
