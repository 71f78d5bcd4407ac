/**
 * A deterministic mutation fuzzer for the webhook endpoint: requests built from the fixtures
 * (mutated JSON values, broken bytes, odd headers, queries, methods and paths, v3
 * signatures), an oracle for the answer each must get (written from DESIGN.md/README, not
 * from the code), and the checks of what each answer promises against the database.
 *
 * Every case carries a marker (`~fzc<n>~`): in X-Webhook-Id (the shredded tables keep it as
 * `webhook_id`), as the first key `_fz` of the body and of every message, and in the ids, so
 * its loaded events and its bad rows can be found again.
 */
import { createHmac } from 'node:crypto'
import net from 'node:net'
import type postgres from 'postgres'
import { fixtureRequests } from './pagerduty-requests.ts'

// ---------------------------------------------------------------------------------------------
// PRNG (mulberry32): the whole run follows from the seed.

export type Rng = () => number
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1))
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T
const chance = (rng: Rng, p: number) => rng() < p

// ---------------------------------------------------------------------------------------------
// Seeds

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
interface Seed { version: 'v1' | 'v2' | 'v3'; name: string; body: Json; headers: Record<string, string> }

let seedsCache: Seed[] | null = null
export function seeds(): Seed[] {
  if (seedsCache) return seedsCache
  const out: Seed[] = []
  for (const version of ['v1', 'v2', 'v3'] as const) {
    for (const r of fixtureRequests(version)) {
      try { out.push({ version, name: r.name, body: JSON.parse(r.body) as Json, headers: r.headers }) } catch { /* not JSON: skip */ }
    }
  }
  seedsCache = out
  return out
}

// ---------------------------------------------------------------------------------------------
// Values

const RAW_NUMBERS = ['1e400', '-1e400', '-0', '9007199254740993', '-9007199254740993', '1e-400', '0.1e-7', '1E+2', '123456789012345678901234567890', '2147483648', '-2147483649', '4294967296', '0', '1.0', '1.5', '-1', '0e0', '1e308', '5e-324']
const UNICODE = ['\u0000', '\ud800', '\udfff', '\udbff\udc00', 'a\u0000b', '\ud83d', '\ude00x', '\uFFFE', '\uFEFF', '\u202e', 'e\u0301', '😀', '𝕏', '\u2028\u2029', '"\\', '\u0001\u001f', 'null', 'NULL', ' 00:00', '', ' ', 'ü', '日本語']
const KEYS = ['__proto__', 'constructor', 'prototype', '', ' ', 'type', 'event', 'messages', 'id', '\u0000', '\ud800', 'a'.repeat(300), 'toString', 'hasOwnProperty']
const TYPES_V1 = ['incident.trigger', 'incident.acknowledge', 'incident.resolve', 'incident.unacknowledge', 'incident.assign', 'incident.escalate', 'incident.delegate', 'incident.unknown', 'trigger', '', 'INCIDENT.TRIGGER', 'incident.trigger ', 'null']
const TYPES_V2 = ['incident.trigger', 'incident.acknowledge', 'incident.unacknowledge', 'incident.resolve', 'incident.assign', 'incident.escalate', 'incident.delegate', 'incident.annotate', 'incident.custom', '', 'null']
const TYPES_V3 = ['incident.triggered', 'incident.acknowledged', 'incident.resolved', 'incident.annotated', 'incident.priority_updated', 'service.updated', 'service.created', 'pagey.ping', 'incident.future_thing', '', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'PAGEY.PING', 'null']

/** A placeholder string later replaced, quotes included, by a raw number token. */
const RAW = (token: string) => `\u0007RAW:${token}\u0007`

function randomString(rng: Rng): string {
  switch (int(rng, 0, 5)) {
    case 0: return pick(rng, UNICODE)
    case 1: return Array.from({ length: int(rng, 1, 8) }, () => pick(rng, UNICODE)).join('')
    case 2: return 'x'.repeat(int(rng, 200, 5000))
    case 3: return pick(rng, ['2016-02-22T13:07:00Z', '2016-02-22 13:07', 'not a date', '2016-02-30T00:00:00+00:00', '2016-02-22T13:07:00 00:00', '0000-00-00', '99999-01-01T00:00:00Z', '2016-02-22T25:61:61Z', '1970-01-01T00:00:00+14:00', '2016-02-22T13:07:00.123456789Z'])
    case 4: return pick(rng, ['https://user:pw@example.com/x', 'P123456', 'Q1234567890ABC', String(int(rng, 0, 1e9))]) // the URL has credentials: payload redaction applies
    default: return `s${int(rng, 0, 1e6)}`
  }
}

function randomValue(rng: Rng, depth = 0): Json {
  switch (int(rng, 0, 8)) {
    case 0: return null
    case 1: return chance(rng, 0.5)
    case 2: return pick(rng, [0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, 1e21])
    case 3: return RAW(pick(rng, RAW_NUMBERS))
    case 4: case 5: return randomString(rng)
    case 6: return depth > 2 ? [] : Array.from({ length: int(rng, 0, 3) }, () => randomValue(rng, depth + 1))
    case 7: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: int(rng, 0, 3) }, () => [chance(rng, 0.3) ? pick(rng, KEYS) : `k${int(rng, 0, 99)}`, randomValue(rng, depth + 1)]))
    default: return 'x'.repeat(int(rng, 20_000, 120_000))
  }
}

function nest(rng: Rng, inner: Json, levels: number): Json {
  let v = inner
  for (let i = 0; i < levels; i++) v = chance(rng, 0.5) ? [v] : { n: v }
  return v
}

// ---------------------------------------------------------------------------------------------
// JSON mutations

type Path = (string | number)[]

function paths(value: Json, at: Path = [], out: Path[] = []): Path[] {
  if (at.length > 0) out.push(at)
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out))
  else if (value !== null && typeof value === 'object') for (const k of Object.keys(value)) if (k !== '_fz') paths(value[k] as Json, [...at, k], out)
  return out
}

function parentOf(root: Json, path: Path): { parent: Json[] | Record<string, Json>; key: string | number } | null {
  let v: Json = root
  for (const k of path.slice(0, -1)) v = (v as Record<string, Json>)[k as string] as Json
  if (v === null || typeof v !== 'object') return null
  return { parent: v as Json[] | Record<string, Json>, key: path[path.length - 1] as string | number }
}

function setAt(root: Json, path: Path, value: Json | undefined): void {
  const p = parentOf(root, path)
  if (!p) return
  if (value === undefined) {
    if (Array.isArray(p.parent)) p.parent.splice(p.key as number, 1)
    else delete p.parent[p.key as string]
  } else (p.parent as Record<string, Json>)[p.key as string] = value
}

function mutateJson(rng: Rng, root: Json, version: Seed['version'], notes: string[]): void {
  const all = paths(root)
  if (all.length === 0) return
  const path = pick(rng, all)
  const last = path[path.length - 1]
  const op = int(rng, 0, 11)
  const where = `/${path.join('/')}`
  switch (op) {
    case 0: case 1: { const v = randomValue(rng); setAt(root, path, v); notes.push(`swap ${where}`); break }
    case 2: setAt(root, path, undefined); notes.push(`delete ${where}`); break
    case 3: setAt(root, path, pick(rng, UNICODE)); notes.push(`unicode ${where}`); break
    case 4: setAt(root, path, RAW(pick(rng, RAW_NUMBERS))); notes.push(`number ${where}`); break
    case 5: { const n = chance(rng, 0.5) ? int(rng, 55, 70) : int(rng, 1, 200); setAt(root, path, nest(rng, randomValue(rng), n)); notes.push(`nest ${n} ${where}`); break }
    case 6: { // an event type
      const key = version === 'v1' ? 'type' : version === 'v2' ? 'event' : 'event_type'
      const p = [...path.slice(0, -1), key]
      setAt(root, p, pick(rng, version === 'v1' ? TYPES_V1 : version === 'v2' ? TYPES_V2 : TYPES_V3))
      notes.push(`type /${p.join('/')}`)
      break
    }
    case 7: setAt(root, path, 'null'); notes.push(`"null" ${where}`); break
    case 8: { // an extra key
      const p = parentOf(root, path)
      if (p && !Array.isArray(p.parent)) {
        const k = pick(rng, KEYS)
        Object.defineProperty(p.parent, k, { value: randomValue(rng), enumerable: true, writable: true, configurable: true })
        notes.push(`key ${JSON.stringify(k.slice(0, 10))} at ${where}`)
      }
      break
    }
    case 9: setAt(root, path, typeof last === 'number' ? randomValue(rng) : pick(rng, [[], {}, [null], [1, 'a'], {}])); notes.push(`container ${where}`); break
    case 10: setAt(root, path, 'x'.repeat(int(rng, 10_000, 300_000))); notes.push(`huge ${where}`); break
    default: setAt(root, path, randomString(rng)); notes.push(`string ${where}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

export interface FuzzOptions { secret: string | null; maxBodyBytes: number }

export interface Expected {
  /** Statuses the contract allows. */
  statuses: number[]
  /** A 4xx that stores the raw body (the first maxBodyBytes for 413) as a bad row. */
  /** null with a badRowCode: the payload has credentials replaced; found by the marker. */
  badRowPayload: string | null
  badRowCode: string | null
  /** v1/v2 message count, or 1 for v3, when a 2xx is expected. */
  messages: number | null
  /** Event ids may repeat one loaded before (or in the same request): loaded <= accepted. */
  mayDedupe: boolean
  /** Bad rows may hold no marker (a message that is not an object): matched <= bad. */
  unmarkedBad: boolean
  /** The query as the rows must show it. */
  query: { aid: string | null; p: string; cv: string | null; nuid: string | null }
}

export interface FuzzCase {
  n: number
  kind: string
  notes: string[]
  marker: string
  method: string
  path: string
  headers: Record<string, string>
  body: Uint8Array
  expected: Expected
}

const enc = new TextEncoder()
const utf8Fatal = new TextDecoder('utf-8', { fatal: true })
const lossy = new TextDecoder('utf-8', { fatal: false })

const CONTENT_TYPES: [string | null, boolean][] = [
  ['application/json', true], ['application/json; charset=utf-8', true], ['APPLICATION/JSON', true], ['application/json;charset=UTF-8', true],
  ['application/json; charset="utf-8"', true], ['application/json ; charset = utf8', true], ['application/json; boundary=x', true],
  [null, false], ['text/plain', false], ['application/x-www-form-urlencoded', false], ['application/json; charset=latin1', false],
  ['application/json; charset=utf-16', false], ['application/jsonp', false], ['application/vnd.api+json', false], ['', false],
  ['application/json, application/json', false], ['*/*', false], ['application/json; charset=', false], ['json', false],
]
const ENCODINGS: [string | null, boolean][] = [[null, true], ['identity', true], ['IDENTITY', true], [' identity ', true], ['gzip', false], ['br', false], ['identity, gzip', false], ['x', false]]

function signatureHeader(rng: Rng, secret: string, body: Uint8Array): { value: string | null; valid: boolean; what: string } {
  const good = `v1=${createHmac('sha256', secret).update(body).digest('hex')}`
  const wrong = `v1=${createHmac('sha256', 'not-the-secret').update(body).digest('hex')}`
  switch (int(rng, 0, 11)) {
    case 0: return { value: null, valid: false, what: 'missing' }
    case 1: return { value: '', valid: false, what: 'empty' }
    case 2: return { value: wrong, valid: false, what: 'wrong secret' }
    case 3: return { value: `${wrong}, ${good}`, valid: true, what: 'rotation' }
    case 4: return { value: good.toUpperCase().replace('V1=', 'v1='), valid: true, what: 'upper hex' }
    case 5: return { value: good.slice(0, -1), valid: false, what: 'short' }
    case 6: return { value: `v0=${good.slice(3)}`, valid: false, what: 'v0' }
    case 7: return { value: `${good},${'v1='.repeat(500)}`, valid: true, what: 'junk after' }
    case 8: return { value: `v1=${'zz'.repeat(32)}`, valid: false, what: 'not hex' }
    case 9: return { value: ` ${good} `, valid: true, what: 'spaces' }
    case 10: return { value: `v1=${createHmac('sha256', secret).update(enc.encode('other')).digest('hex')}`, valid: false, what: 'other body' }
    default: return { value: good, valid: true, what: 'valid' }
  }
}

const QUERY_VALUES = ['', 'acme', 'a b', '%ZZ', '%', '%E2%82', '%ED%A0%80', '%00', '%C0%AF', '+', 'x'.repeat(2000), '%F0%9F%98%80', 'WEB', 'server', 'srv', 'iot', 'app&', '=', 'a%3Db']

function oddQuery(rng: Rng, marker: string): string {
  const parts: string[] = []
  for (let i = int(rng, 0, 6); i > 0; i--) {
    const key = pick(rng, ['aid', 'p', 'cv', 'nuid', 'aid', 'p', 'AID', 'x', '', '%61id'])
    parts.push(chance(rng, 0.1) ? key : `${key}=${pick(rng, QUERY_VALUES)}`)
  }
  if (chance(rng, 0.5)) parts.push(`aid=${encodeURIComponent(marker)}`)
  return parts.join(pick(rng, ['&', '&', '&', ';', '&&']))
}

const PLATFORMS = ['web', 'mob', 'pc', 'srv', 'app', 'tv', 'cnsl', 'iot', 'headset']
const wellFormed = (s: string) => s.replaceAll('\u0000', '\uFFFD').toWellFormed()

function expectedQuery(search: string): Expected['query'] {
  const q = new URLSearchParams(search)
  const get = (k: string) => { const v = q.get(k); return v === null ? null : wellFormed(v) }
  const p = get('p')
  return { aid: get('aid'), p: p === null ? 'srv' : PLATFORMS.includes(p.toLowerCase()) ? p.toLowerCase() : 'srv', cv: get('cv'), nuid: get('nuid') }
}

/** Brackets outside strings nested deeper than 64, counted on text that may not parse. */
function tooDeepText(text: string): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (inString) { if (ch === '\\') i++; else if (ch === '"') inString = false } else if (ch === '"') inString = true
    else if (ch === '[' || ch === '{') { if (++depth > 64) return true } else if (ch === ']' || ch === '}') depth--
  }
  return false
}

function jsonDepth(value: unknown): number {
  let max = 0
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v === null || typeof v !== 'object') continue
    max = Math.max(max, d)
    for (const c of Array.isArray(v) ? v : Object.values(v)) stack.push([c, d + 1])
  }
  return max
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** PagerDuty's identity of a message as the contract defines it (v1/v2 `id`, v3 `event.id`); null: none (its JSON is). */
function identity(version: string, m: Record<string, unknown>): string | null {
  if (version === 'v3') return m.id === undefined || m.id === null ? null : `v3/${String(m.id)}`
  const id = m.id
  return typeof id === 'string' && id !== '' && !(version === 'v1' && id === 'null') ? `${version}/${id}` : null
}

/** Identities seen by earlier cases of this run (the database is shared). */
export const seenIdentities = new Set<string>()

/** The charset a Content-Type declares, if any. */
const charsetOf = (contentType: string | undefined): string | undefined => /^[^;]*;.*charset\s*=\s*"?([^";]*)/i.exec(contentType ?? '')?.[1]?.trim().toLowerCase()

/**
 * A refused body as the README says its bad row keeps it: its text when it is text (valid in
 * the charset it declared, UTF-8 unless it declared one the runtime knows, no NUL, not
 * compressed), else its bytes as base64; a body cut at MAX_BODY_BYTES without the character
 * the cut splits, and with a URL authority open at its end replaced by `***`. Null when it
 * holds an `@` (credentials may have been replaced): such a body is found by its marker.
 */
export function keptPayload(bytes: Uint8Array, how: { charset?: string | undefined; compressed?: boolean; cut?: boolean } = {}): string | null {
  const latin1 = Buffer.from(bytes).toString('latin1')
  if (latin1.includes('@')) return null
  const openUrl = /([a-z][a-z0-9+.-]{0,31}:(?:\\?\/){2})[^/?#\\@\s"]+$/i
  const base64 = () => Buffer.from(how.cut ? latin1.replace(/([a-z][a-z0-9+.-]{0,31}:(?:\\?\/){2})[^/?#\\@\t\n\v\f\r "]+$/i, '$1***') : latin1, 'latin1').toString('base64')
  if (how.compressed) return base64()
  let decoder: TextDecoder
  try { decoder = new TextDecoder((how.charset ?? 'utf-8') as ConstructorParameters<typeof TextDecoder>[0], { fatal: true, ignoreBOM: true }) } catch { decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }) }
  let text: string
  try { text = decoder.decode(bytes, { stream: how.cut === true }) } catch { return base64() }
  if (text.includes('\u0000')) return base64()
  return how.cut ? text.replace(openUrl, '$1***') : text
}

/** What the contract says this request must get. */
export function oracle(c: Omit<FuzzCase, 'expected'>, contentOk: boolean, encodingOk: boolean, sig: { valid: boolean } | null, opts: FuzzOptions, search: string): Expected {
  const base: Expected = { statuses: [], badRowPayload: null, badRowCode: null, messages: null, mayDedupe: false, unmarkedBad: false, query: expectedQuery(search) }
  // Percent-encoded unreserved characters are the characters themselves (RFC 9110 section 4.2.3).
  const pathname = new URL(`http://h${c.path}`).pathname.replace(/%([0-9A-Fa-f]{2})/g, (e, h: string) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(h, 16))) ? String.fromCharCode(parseInt(h, 16)) : e))
  // Fetch normalises the standard methods' case (`post` is sent as POST).
  const method = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(c.method.toUpperCase()) ? c.method.toUpperCase() : c.method
  const routed = /^\/com\.pagerduty\/v[123]\/?$/.test(pathname)
  // `//com.pagerduty/v1`: the contract does not say; the client or server may merge the slashes.
  const merged = /^\/\/+com\.pagerduty\/v[123]\/?$/.test(pathname)
  if (!routed && !merged) return { ...base, statuses: [404] }
  if (method !== 'POST') return { ...base, statuses: merged ? [404, 405] : [405] }
  const declared = charsetOf(c.headers['content-type'])
  if (c.body.length > opts.maxBodyBytes) {
    // README: "a URL the cut ends in before its path (in its credentials or host) replaced by `***` after its scheme".
    // Kept as a 415's body is: in the charset its Content-Type declared, as base64 if it is compressed.
    return { ...base, statuses: [413], badRowCode: 'PAYLOAD_TOO_LARGE', badRowPayload: keptPayload(c.body.subarray(0, opts.maxBodyBytes), { charset: encodingOk ? declared : undefined, compressed: !encodingOk, cut: true }) }
  }
  const reject = (status: number, code: string, how: Parameters<typeof keptPayload>[1] = {}): Expected => ({ ...base, statuses: [status, ...base.statuses], badRowCode: code, badRowPayload: keptPayload(c.body, how) })
  if (merged) base.statuses.push(404)
  // A body refused for its media type or charset is kept decoded in the charset it declared (src/events/raw-body.ts).
  if (!contentOk && encodingOk) return reject(415, 'UNSUPPORTED_MEDIA_TYPE', { charset: declared })
  if (!contentOk || !encodingOk) return reject(415, 'UNSUPPORTED_MEDIA_TYPE', { compressed: true })
  let text: string
  try { text = utf8Fatal.decode(c.body) } catch { return reject(400, 'INVALID_UTF8') }
  if (text.trim() === '') return reject(400, 'EMPTY_BODY')
  let json: unknown
  // Invalid and too deep: either code will do.
  try { json = JSON.parse(text) } catch { return reject(400, tooDeepText(text) ? 'INVALID_JSON|JSON_TOO_DEEP' : 'INVALID_JSON') }
  if (jsonDepth(json) > 64) return reject(400, 'JSON_TOO_DEEP')
  // The shape as the contract reads it: a `messages` array holding an object is v1/v2 (a
  // stray `event` beside it is ignored, and needs no signature); else an `event` object is v3
  // (signed when secrets are set), a stray `messages` array without objects beside it
  // ignored; else it is not PagerDuty's.
  const messagesShape = isObj(json) && Array.isArray(json.messages) && (json.messages as unknown[]).some(isObj)
  if (!messagesShape && isObj(json) && isObj(json.event) && opts.secret && sig && !sig.valid) return { ...base, statuses: [401, ...base.statuses] }
  if (messagesShape) {
    const ms = (json as { messages: unknown[] }).messages
    const ids = ms.filter(isObj).map((m) => identity('type' in m ? 'v1' : 'v2', m)).filter((x): x is string => x !== null)
    const mayDedupe = ids.some((id) => seenIdentities.has(id)) || new Set(ids).size < ids.length
    for (const id of ids) seenIdentities.add(id)
    return { ...base, statuses: [202, ...base.statuses], messages: ms.length, mayDedupe, unmarkedBad: ms.some((m) => !isObj(m) || typeof m._fz !== 'string' || !m._fz.includes(c.marker)) }
  }
  if (isObj(json) && isObj(json.event)) {
    const id = identity('v3', json.event)
    const mayDedupe = id !== null && seenIdentities.has(id)
    if (id !== null) seenIdentities.add(id)
    return { ...base, statuses: [202, ...base.statuses], messages: 1, mayDedupe, unmarkedBad: typeof json.event._fz !== 'string' }
  }
  return reject(400, 'NOT_PAGERDUTY')
}

/** Marks the body and its messages, and makes their ids the case's own. */
function marked(seed: Seed, marker: string): Json {
  const body = structuredClone(seed.body) as Record<string, Json>
  const mark = (m: Json, i: number): Json => {
    if (!isObj(m)) return m
    const out: Record<string, Json> = { _fz: `${marker}m${i}~` }
    for (const [k, v] of Object.entries(m)) out[k] = k === 'id' && typeof v === 'string' ? `${v}${marker}m${i}~` : v as Json
    return out
  }
  const out: Record<string, Json> = { _fz: marker }
  for (const [k, v] of Object.entries(body)) {
    if (k === 'messages' && Array.isArray(v)) out[k] = v.map(mark)
    else if (k === 'event') out[k] = mark(v, 0)
    else out[k] = v
  }
  return out
}

function serialise(value: Json): string {
  return JSON.stringify(value).replace(/"\\u0007RAW:([^\\"]+)\\u0007"/g, '$1')
}

function textMutation(rng: Rng, bytes: Uint8Array, notes: string[]): Uint8Array {
  const text = lossy.decode(bytes)
  switch (int(rng, 0, 11)) {
    case 0: { const at = int(rng, 0, bytes.length); notes.push(`truncate@${at}`); return bytes.subarray(0, at) }
    case 1: { const at = int(rng, 0, Math.max(0, bytes.length - 1)); const b = new Uint8Array(bytes); b[at] = int(rng, 0, 255); notes.push(`byte@${at}`); return b }
    case 2: { const bad = pick(rng, [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80]]); const at = int(rng, 0, bytes.length); notes.push(`invalid utf8@${at}`); return concat(bytes.subarray(0, at), new Uint8Array(bad), bytes.subarray(at)) }
    case 3: notes.push('bom'); return concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes)
    case 4: notes.push('trailing garbage'); return enc.encode(text + pick(rng, [' x', ',', '}', '\u0000', '{}', ' \n\t ']))
    case 5: notes.push('whitespace only'); return enc.encode(pick(rng, ['', ' ', '\n\r\t', '\u00a0', '\ufeff', '\u2028']))
    case 6: notes.push('scalar'); return enc.encode(pick(rng, ['null', 'true', '0', '"x"', '[]', '{}', '[{}]', '{"messages":[]}', '{"messages":[1,2]}', '{"messages":{}}', '{"event":null}', '{"event":[]}', '{"event":{}}', '{"messages":[{}]}', '{"messages":[{"type":1}]}']))
    case 7: { notes.push('dup key'); return enc.encode(text.replace(/^(\s*\{)/, `$1"messages":${pick(rng, ['5', '[]', 'null', '[{"type":"incident.trigger"}]'])},`)) }
    case 8: { notes.push('raw control char'); const at = int(rng, 0, text.length); return enc.encode(text.slice(0, at) + pick(rng, ['\u0000', '\u0001', '\n', '\t']) + text.slice(at)) }
    case 9: { notes.push('deep text'); const n = int(rng, 60, 5000); return enc.encode(`${'['.repeat(n)}${']'.repeat(n)}`) }
    case 10: { notes.push('unbalanced'); return enc.encode(text.replaceAll('}', pick(rng, [']', '', '}}']))) }
    default: { notes.push('quotes'); return enc.encode(text.replace('"', "'")) }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

const PATHS = ['/com.pagerduty/v1', '/com.pagerduty/v2', '/com.pagerduty/v3', '/com.pagerduty/v1/', '/com.pagerduty/v4', '/com.pagerduty', '/COM.PAGERDUTY/V1', '/com.pagerduty/v1/x', '/com.mandrill/v1', '//com.pagerduty/v1', '/com.pagerduty//v1', '/com.pagerduty/./v1', '/com.pagerduty/v2/../v1', '/com.pagerduty/%76%31', '/', '/com.pagerduty/v1%2f', '/com.pagerduty/v1;x']
const METHODS = ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'post', 'PROPFIND']

export function makeCase(rng: Rng, n: number, opts: FuzzOptions): FuzzCase {
  const marker = `~fzc${n}~`
  const seed = pick(rng, seeds())
  const notes: string[] = [`seed ${seed.version}/${seed.name}`]
  let body: Json = marked(seed, marker)
  const kinds = ['json', 'json', 'json', 'json', 'batch', 'text', 'headers', 'query', 'route', 'signature']
  const kind = pick(rng, kinds)

  if (kind === 'json' || kind === 'text' || kind === 'query' || kind === 'headers' || kind === 'signature') {
    const times = kind === 'json' ? int(rng, 1, 4) : chance(rng, 0.3) ? 1 : 0
    for (let i = 0; i < times; i++) mutateJson(rng, body, seed.version, notes)
  }
  if (kind === 'batch') {
    // A long batch: the seed's messages (or a v1 trigger) many times, ids unique or repeated,
    // a few mutated, maybe mixed with messages of the other version.
    const pool = seeds().filter((s) => s.version !== 'v3')
    const count = pick(rng, [2, 10, 50, 99, 100, 101, 102, 150, 400])
    const repeatIds = chance(rng, 0.15)
    const messages: Json[] = []
    for (let i = 0; i < count; i++) {
      const s = chance(rng, 0.8) && seed.version !== 'v3' ? seed : pick(rng, pool)
      const m = ((s.body as { messages: Json[] }).messages[0]) as Record<string, Json>
      const copy: Record<string, Json> = { _fz: `${marker}m${i}~`, ...structuredClone(m) }
      if (typeof copy.id === 'string' && !repeatIds) copy.id = `${copy.id}${marker}m${i}~`
      if (chance(rng, 0.1)) copy.incident = 'x'.repeat(int(rng, 10, 200))
      messages.push(copy)
    }
    body = { _fz: marker, messages }
    for (let i = int(rng, 0, 3) + (chance(rng, 0.2) ? count : 0); i > 0; i--) {
      const at = int(rng, 0, count - 1)
      const sub = messages[at] as Json
      const version = isObj(sub) && 'event' in sub && !('type' in sub) ? 'v2' : 'v1'
      mutateJson(rng, sub, version, notes)
      if (chance(rng, 0.1)) messages[at] = randomValue(rng)
    }
    notes.push(`batch ${count}${repeatIds ? ' repeated ids' : ''}`)
  }

  let bytes: Uint8Array = enc.encode(serialise(body))
  if (kind === 'text') bytes = textMutation(rng, bytes, notes)

  // Headers
  let [contentType, contentOk] = CONTENT_TYPES[0] as [string | null, boolean]
  let [encoding, encodingOk] = ENCODINGS[0] as [string | null, boolean]
  const headers: Record<string, string> = { 'x-webhook-id': marker, ...seed.headers }
  headers['x-webhook-id'] = marker
  if (kind === 'headers') {
    if (chance(rng, 0.6)) [contentType, contentOk] = pick(rng, CONTENT_TYPES)
    if (chance(rng, 0.4)) [encoding, encodingOk] = pick(rng, ENCODINGS)
    if (chance(rng, 0.3)) headers['user-agent'] = pick(rng, ['', 'x'.repeat(3000), 'ü\u00ff', 'PagerDuty-Webhook/V3.0'])
    if (chance(rng, 0.3)) headers['x-forwarded-for'] = pick(rng, ['', ',', '1.2.3.4, 5.6.7.8', 'x'.repeat(500), 'not-an-ip', '::1', ' , 1.1.1.1'])
    notes.push(`content-type ${JSON.stringify(contentType)} encoding ${JSON.stringify(encoding)}`)
  }
  if (contentType !== null) headers['content-type'] = contentType
  if (encoding !== null) headers['content-encoding'] = encoding

  // Signature (v3 bodies, when secrets are set)
  let sig: { valid: boolean } | null = null
  if (opts.secret) {
    const s = kind === 'signature' || chance(rng, 0.1) ? signatureHeader(rng, opts.secret, bytes) : { value: `v1=${createHmac('sha256', opts.secret).update(bytes).digest('hex')}`, valid: true, what: 'valid' }
    if (s.value !== null) headers['x-pagerduty-signature'] = s.value
    sig = s
    if (kind === 'signature') notes.push(`signature ${s.what}`)
  }

  // Query
  let search = `aid=${encodeURIComponent(marker)}`
  if (kind === 'query') { search = oddQuery(rng, marker); notes.push(`query ${search.slice(0, 120)}`) }

  // Route
  let method = 'POST'
  let path = '/com.pagerduty/v1'
  if (kind === 'route' || chance(rng, 0.05)) {
    if (chance(rng, 0.5)) method = pick(rng, METHODS)
    path = pick(rng, PATHS)
    notes.push(`${method} ${path}`)
  } else path = pick(rng, ['/com.pagerduty/v1', '/com.pagerduty/v1', '/com.pagerduty/v2', '/com.pagerduty/v3'])
  // Bun's fetch sends methods upper-cased as given; `post` is not POST.
  const partial = { n, kind, notes, marker, method, path: `${path}?${search}`, headers, body: bytes }
  return { ...partial, expected: oracle(partial, contentOk, encodingOk, sig, opts, search) }
}

// ---------------------------------------------------------------------------------------------
// Sending and checking

export interface Outcome { status: number; body: unknown; text: string }

export async function send(base: string, c: FuzzCase): Promise<Outcome> {
  const init: RequestInit = { method: c.method, headers: c.headers }
  if (c.method !== 'GET' && c.method !== 'HEAD') init.body = c.body
  const res = await fetch(`${base}${c.path}`, init)
  const text = await res.text()
  let body: unknown = null
  try { body = JSON.parse(text) } catch { /* checked below */ }
  return { status: res.status, body, text }
}

export interface Violation { n: number; what: string; detail: string }

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0

/** What can be checked at once, before the writer catches up. */
export function checkAnswer(c: FuzzCase, o: Outcome): Violation[] {
  const out: Violation[] = []
  const v = (what: string, detail = '') => out.push({ n: c.n, what, detail })
  if (!c.expected.statuses.includes(o.status)) v(`status ${o.status}, expected ${c.expected.statuses.join('|')}`, o.text.slice(0, 300))
  if (c.method === 'HEAD') return out
  if (o.status >= 200 && o.status < 300) {
    const b = o.body as Record<string, unknown> | null
    if (!b || !isInt(b.accepted) || !isInt(b.bad) || !isInt(b.pings) || typeof b.version !== 'string') v('2xx body shape', o.text.slice(0, 300))
    else if (c.expected.messages !== null) {
      const total = (b.accepted as number) + (b.bad as number) + (b.pings as number)
      const tooMany = (b.bad as number) === 1 && total < c.expected.messages
      if (total !== c.expected.messages && !tooMany) v(`2xx counts add to ${total}, the request has ${c.expected.messages} messages`, o.text)
    }
  } else {
    const e = (o.body as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | null)?.error
    const issuesOk = Array.isArray(e?.issues) && (e?.issues as unknown[]).every((i) => isObj(i) && typeof i.path === 'string' && typeof i.message === 'string')
    if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || !issuesOk) v(`${o.status} body is not the error envelope`, o.text.slice(0, 300))
    else if (c.expected.badRowCode && c.expected.statuses[0] === o.status && !c.expected.badRowCode.split('|').includes(e.code)) v(`error code ${String(e.code)}, expected ${c.expected.badRowCode}`, String(e.message).slice(0, 200))
  }
  return out
}

export interface Counts { events: number; v1: number; v2: number; v3: number; bad: number }

export async function counts(sql: postgres.Sql): Promise<Counts> {
  const [r] = await sql`select (select count(*)::int from atomic.events) as events,
    (select count(*)::int from atomic.com_pagerduty_incident_1) as v1,
    (select count(*)::int from atomic.com_pagerduty_webhook_v2_message_1) as v2,
    (select count(*)::int from atomic.com_pagerduty_webhook_v3_event_1) as v3,
    (select count(*)::int from atomic.bad_rows) as bad`
  return r as unknown as Counts
}

/** After the writer caught up: what the answer promised is in the database. */
export async function checkStored(sql: postgres.Sql, c: FuzzCase, o: Outcome): Promise<Violation[]> {
  const out: Violation[] = []
  const v = (what: string, detail = '') => out.push({ n: c.n, what, detail })
  const like = `%${c.marker}%`
  const [loaded] = await sql`
    select count(*)::int as n, count(e.event_id)::int as joined,
      count(*) filter (where e.app_id is not distinct from left(${c.expected.query.aid}::text, 255) and e.platform = ${c.expected.query.p}
        and e.network_userid is not distinct from left(${c.expected.query.nuid}::text, 128))::int as ctx_ok
    from (select root_id, webhook_id from atomic.com_pagerduty_incident_1 union all select root_id, webhook_id from atomic.com_pagerduty_webhook_v2_message_1
          union all select root_id, webhook_id from atomic.com_pagerduty_webhook_v3_event_1) s
    left join atomic.events e on e.event_id = s.root_id
    where s.webhook_id = ${c.marker}`
  const [bad] = await sql`select count(*)::int as n from atomic.bad_rows where strpos(${payloadText(sql)}, ${c.marker}) > 0`
  const n = loaded?.n as number
  const badN = bad?.n as number
  if ((loaded?.joined as number) !== n) v(`${n - (loaded?.joined as number)} shredded rows without their atomic.events row`)
  if ((loaded?.ctx_ok as number) !== n) v(`${n - (loaded?.ctx_ok as number)} events whose app_id/platform/network_userid differ from the query`, JSON.stringify(c.expected.query).slice(0, 300))
  if (o.status >= 200 && o.status < 300) {
    const b = o.body as { accepted: number; bad: number }
    if (c.expected.mayDedupe ? n > b.accepted : n !== b.accepted) v(`2xx said accepted ${b.accepted}, ${n} loaded`, c.expected.mayDedupe ? 'ids may repeat' : '')
    if (c.expected.unmarkedBad ? badN > b.bad : badN !== b.bad) v(`2xx said bad ${b.bad}, ${badN} bad rows hold the marker`)
  } else {
    if (n !== 0) v(`${o.status} but ${n} events loaded`)
    if (c.expected.badRowCode !== null && c.expected.statuses[0] === o.status) {
      const codes = c.expected.badRowCode.split('|')
      const r = c.expected.badRowPayload !== null
        ? (await sql`select count(*)::int as n from atomic.bad_rows where payload = ${c.expected.badRowPayload} and (reason = ${codes[0] as string} or reason = ${(codes[1] ?? codes[0]) as string})`)[0]
        : lossy.decode(c.body).includes(c.marker) ? (await sql`select count(*)::int as n from atomic.bad_rows where strpos(${payloadText(sql)}, ${c.marker}) > 0 and (reason = ${codes[0] as string} or reason = ${(codes[1] ?? codes[0]) as string})`)[0] : { n: 1 }
      if ((r?.n as number) < 1) v(`${o.status} but no ${c.expected.badRowCode} bad row holds the raw body`, `${badN} rows hold the marker`)
    } else if (badN !== 0 && o.status !== 499) v(`${o.status} but ${badN} bad rows hold the marker`)
  }
  return out
}

/** Waits until the spool's backlog is committed (the writer caught up). */
export async function drained(readyUrl: string, timeoutMs = 60_000): Promise<{ ok: boolean; ready: number; body: unknown }> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(readyUrl)
    const body = (await res.json()) as { spool?: { backlog_bytes?: number } }
    if (body.spool?.backlog_bytes === 0 || Date.now() > until) return { ok: body.spool?.backlog_bytes === 0, ready: res.status, body }
    await Bun.sleep(20)
  }
}

// ---------------------------------------------------------------------------------------------
// Raw TCP: what fetch cannot send (Content-Length that lies, odd framing).


export interface RawCase { n: number; marker: string; what: string; bytes: Uint8Array; /** close the socket this long after writing */ closeAfterMs: number; declared: number | null; body: Uint8Array }

export function makeRawCase(rng: Rng, n: number, opts: FuzzOptions): RawCase {
  const marker = `~fzc${n}~`
  const seed = pick(rng, seeds().filter((s) => s.version !== 'v3' || !opts.secret))
  const body = enc.encode(serialise(marked(seed, marker)))
  const head = (extra: string) => enc.encode(`POST /com.pagerduty/v1?aid=${encodeURIComponent(marker)} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nX-Webhook-Id: ${marker}\r\n${extra}\r\n`)
  const op = int(rng, 0, 13)
  const len = body.length
  const target = `/com.pagerduty/v1?aid=${encodeURIComponent(marker)}`
  const line = (t: string, host: string | null, proto = 'HTTP/1.1', extra = '') => concat(enc.encode(`POST ${t} ${proto}\r\n${host === null ? '' : `Host: ${host}\r\n`}Content-Type: application/json\r\nX-Webhook-Id: ${marker}\r\nContent-Length: ${len}\r\n${extra}\r\n`), body)
  switch (op) {
    case 0: { const d = len + int(rng, 1, 5000); return { n, marker, what: `content-length ${d} > body ${len}, then close`, bytes: concat(head(`Content-Length: ${d}\r\n`), body), closeAfterMs: 300, declared: d, body } }
    case 1: { const d = int(rng, 0, len - 1); return { n, marker, what: `content-length ${d} < body ${len}`, bytes: concat(head(`Content-Length: ${d}\r\n`), body), closeAfterMs: 1500, declared: d, body } }
    case 2: { const v = pick(rng, ['-1', 'abc', '1e3', '0x10', ' 10', '99999999999999999999', '']); return { n, marker, what: `content-length ${JSON.stringify(v)}`, bytes: concat(head(`Content-Length: ${v}\r\n`), body), closeAfterMs: 1500, declared: null, body } }
    case 3: return { n, marker, what: 'two content-lengths', bytes: concat(head(`Content-Length: ${len}\r\nContent-Length: ${len - 1}\r\n`), body), closeAfterMs: 1500, declared: null, body }
    case 4: return { n, marker, what: 'chunked and content-length', bytes: concat(head(`Content-Length: 5\r\nTransfer-Encoding: chunked\r\n`), enc.encode(`${len.toString(16)}\r\n`), body, enc.encode('\r\n0\r\n\r\n')), closeAfterMs: 1500, declared: null, body }
    case 5: return { n, marker, what: 'chunked, bad chunk size', bytes: concat(head('Transfer-Encoding: chunked\r\n'), enc.encode(`${(len + 10).toString(16)}\r\n`), body, enc.encode('\r\n0\r\n\r\n')), closeAfterMs: 600, declared: null, body }
    case 6: return { n, marker, what: 'chunked, correct', bytes: concat(head('Transfer-Encoding: chunked\r\n'), enc.encode(`${len.toString(16)}\r\n`), body, enc.encode('\r\n0\r\n\r\n')), closeAfterMs: 1500, declared: len, body }
    case 7: return { n, marker, what: 'no content-length, no body framing', bytes: concat(head(''), body), closeAfterMs: 1500, declared: 0, body }
    case 8: { const cut = int(rng, 0, len - 1); return { n, marker, what: `content-length ${len}, only ${cut} sent, then close`, bytes: concat(head(`Content-Length: ${len}\r\n`), body.subarray(0, cut)), closeAfterMs: 200, declared: len, body } }
    case 10: { const h = pick(rng, [null, '', 'a:b:c', '[::1', 'x y', 'h:99999', 'ü', 'h:-1']); return { n, marker, what: `host ${JSON.stringify(h)}`, bytes: line(target, h, pick(rng, ['HTTP/1.1', 'HTTP/1.0'])), closeAfterMs: 1500, declared: len, body } }
    case 11: { const t = pick(rng, [`http://other.example${target}`, `http://u:p@h:1${target}`, `${target}#frag`, `//com.pagerduty/v1?aid=${encodeURIComponent(marker)}`, `/com.pagerduty/v1?aid=${encodeURIComponent(marker)}&aid=%`, '*', `/com.pagerduty/v1?aid=${encodeURIComponent(marker)}&p=%ff%fe`, `/com.pagerduty/v1?aid=${encodeURIComponent(marker)}&cv=\u00ff`]); return { n, marker, what: `target ${JSON.stringify(t)}`, bytes: line(t, 'h'), closeAfterMs: 1500, declared: len, body } }
    case 12: return { n, marker, what: 'expect 100-continue', bytes: line(target, 'h', 'HTTP/1.1', 'Expect: 100-continue\r\n'), closeAfterMs: 1500, declared: len, body }
    case 13: return { n, marker, what: 'pipelined twice', bytes: concat(line(target, 'h'), line(target, 'h')), closeAfterMs: 1500, declared: len, body }
    default: return { n, marker, what: 'exact content-length, Connection: close', bytes: concat(head(`Content-Length: ${len}\r\nConnection: close\r\n`), body), closeAfterMs: 1500, declared: len, body }
  }
}

export function sendRaw(port: number, host: string, c: RawCase): Promise<string> {
  return new Promise((resolve) => {
    let answer = ''
    const socket = net.connect(port, host, () => socket.write(c.bytes))
    const timer = setTimeout(() => socket.destroy(), c.closeAfterMs)
    socket.on('data', (chunk) => { answer += chunk })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
  })
}

/** A bad row's payload as text to search for a marker: a base64 one decoded (src/events/raw-body.ts). */
const payloadText = (sql: postgres.Sql) => sql`case when request like '%"payload_encoding":"base64"%' then encode(decode(payload, 'base64'), 'escape') else payload end`

/** A raw case after the writer caught up: a 2xx loaded what it said, no 2xx loaded nothing, a stored 4xx kept its body. */
export async function checkRaw(sql: postgres.Sql, c: RawCase, answer: string): Promise<Violation[]> {
  const out: Violation[] = []
  const v = (what: string, detail = '') => out.push({ n: c.n, what: `${c.what}: ${what}`, detail })
  answer = answer.replace(/^(HTTP\/1\.[01] 1\d\d[^\r]*\r\n\r\n)+/, '') // 100 Continue
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(answer)
  const status = m ? Number(m[1]) : 0
  if (status >= 500) v(`status ${status}`, answer.slice(0, 300))
  const [loaded] = await sql`select count(*)::int as n from (select webhook_id from atomic.com_pagerduty_incident_1 union all select webhook_id from atomic.com_pagerduty_webhook_v2_message_1 union all select webhook_id from atomic.com_pagerduty_webhook_v3_event_1) s where webhook_id = ${c.marker}`
  const [bad] = await sql`select count(*)::int as n from atomic.bad_rows where strpos(${payloadText(sql)}, ${c.marker}) > 0`
  const n = loaded?.n as number
  if (status >= 200 && status < 300) {
    const accepted = Number(/"accepted":(\d+)/.exec(answer)?.[1] ?? NaN)
    if (n !== accepted) v(`2xx said accepted ${accepted}, ${n} loaded`, answer.slice(0, 300))
  } else if (n !== 0 && status !== 0) v(`${status} but ${n} events loaded`, answer.slice(0, 300))
  // No answer at all (the connection closed or timed out) while the webhook loaded breaks no
  // promise: the sender saw no 2xx and sends it again, which loads nothing twice.
  const bodyJson = answer.slice(answer.indexOf('\r\n\r\n') + 4)
  const code = /"code":"([A-Z_]+)"/.exec(bodyJson)?.[1]
  if (status === 400 && code && ['INVALID_JSON', 'EMPTY_BODY', 'NOT_PAGERDUTY', 'INVALID_UTF8', 'JSON_TOO_DEEP'].includes(code)) {
    const prefix = c.declared !== null ? keptPayload(c.body.subarray(0, c.declared)) : null
    const holdsCredentials = c.declared !== null && prefix === null
    const [r] = prefix !== null
      ? await sql`select count(*)::int as n from atomic.bad_rows where payload = ${prefix}`
      : [{ n: (bad?.n as number) }]
    if ((r?.n as number) < 1 && (!holdsCredentials || lossy.decode(c.body.subarray(0, c.declared ?? undefined)).includes(c.marker))) v(`400 ${code} but no bad row holds the body`, answer.slice(0, 300))
  }
  return out
}
