/**
 * Reading a webhook body: bounded by MAX_BODY_BYTES, strict UTF-8, JSON, at most 64 levels
 * deep (checked on the text before parsing, so a hostile nesting cannot exhaust the stack).
 * Each failure is a value naming its error code.
 */
import { asciiJson } from '../events/storable.ts'

export const MAX_JSON_DEPTH = 64

export type BodyResult =
  | { ok: true; bytes: Uint8Array; text: string; json: unknown }
  | { ok: false; code: 'EMPTY_BODY' | 'INVALID_UTF8' | 'INVALID_JSON' | 'JSON_TOO_DEEP'; message: string; bytes: Uint8Array }

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Reads at most `max` bytes; `tooLarge` when the body is longer (its first `max` bytes kept). */
export async function readLimited(req: Request, max: number): Promise<{ bytes: Uint8Array; tooLarge: boolean }> {
  const declared = Number(req.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared <= max) return { bytes: new Uint8Array(await req.arrayBuffer()), tooLarge: false }
  if (!req.body) return { bytes: new Uint8Array(), tooLarge: false }
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = req.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.length
    if (total > max) {
      await reader.cancel().catch(() => {})
      return { bytes: concat(chunks).subarray(0, max), tooLarge: true }
    }
  }
  return { bytes: concat(chunks), tooLarge: false }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

/**
 * Nesting depth of JSON text exceeds `limit`? Brackets inside strings do not count. Strings
 * are skipped with `indexOf` (a quote is escaped when an odd run of backslashes precedes it),
 * so the loop visits only the characters between them: most of a webhook is strings, and a
 * loop over every byte cost more than JSON.parse of the same body. Text that does not parse
 * (an unterminated string) may get either answer: JSON.parse refuses it next.
 */
export function jsonTooDeep(text: string, limit: number): boolean {
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      let close = text.indexOf('"', i + 1)
      for (;;) {
        if (close < 0) return false
        let backslashes = 0
        while (text.charCodeAt(close - 1 - backslashes) === 0x5c) backslashes++
        if ((backslashes & 1) === 0) break
        close = text.indexOf('"', close + 1)
      }
      i = close
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/**
 * A header value as a 415's message quotes it (the message goes into the bad row's detail):
 * cut to 100 characters, since the header can be 16 KiB and each backslash or quote takes 8
 * bytes once the detail is in the spool (past the room SPOOL_MAX_BYTES's floor leaves), and
 * in ASCII, since a header byte a database's encoding lacks would make it refuse the bad row
 * and its payload with it.
 */
const quoteHeader = (value: string): string =>
  `${asciiJson(value.slice(0, 100))}${value.length > 100 ? ` (cut from ${value.length} characters)` : ''}`

/** Charsets whose text is UTF-8 as sent: UTF-8 itself, and US-ASCII (every ASCII text is UTF-8). */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii'])

/**
 * Why the request's headers say its body is not UTF-8 JSON as sent, or null: the media type
 * must be `application/json` (parameters allowed; Snowplow rejects those), any declared
 * charset UTF-8 or US-ASCII, and the body not compressed (PagerDuty sends it as is; a gzip body would
 * otherwise be read as text and fail as invalid UTF-8, saying nothing useful). `charset` is
 * the one declared, for whichever Content-Type problem: the bad row keeps the body decoded in
 * it when it is valid there (a `text/plain; charset=iso-8859-1` "café" is refused for its
 * media type, and read as UTF-8 it was kept as "caf\uFFFD"; src/events/raw-body.ts).
 */
export function contentProblem(contentType: string | null, contentEncoding: string | null): { header: string; expected: string; message: string; charset?: string } | null {
  const encoding = contentEncoding?.trim().toLowerCase() ?? ''
  if (encoding !== '' && encoding !== 'identity') {
    return { header: 'content-encoding', expected: 'none (identity)', message: `content encoding ${quoteHeader(contentEncoding ?? '')} is not supported: send the JSON uncompressed` }
  }
  const [media, ...parameters] = (contentType ?? '').split(';')
  const charset = parameters.map((p) => p.split('=')).find(([name]) => name?.trim().toLowerCase() === 'charset')?.[1]?.trim().replace(/^"(.*)"$/, '$1').toLowerCase()
  if (media?.trim().toLowerCase() !== 'application/json') {
    return { header: 'content-type', expected: 'application/json', message: `content type must be application/json, got ${contentType === null ? 'none' : quoteHeader(contentType)}`, ...(charset === undefined ? {} : { charset }) }
  }
  if (charset !== undefined && !UTF8_CHARSETS.has(charset)) {
    return { header: 'content-type', expected: 'charset utf-8', message: `the body must be UTF-8, got ${quoteHeader(contentType ?? '')}`, charset }
  }
  return null
}

export function parseBody(bytes: Uint8Array): BodyResult {
  if (bytes.length === 0) return { ok: false, code: 'EMPTY_BODY', message: 'empty body: no events to process', bytes }
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { ok: false, code: 'INVALID_UTF8', message: 'body is not valid UTF-8', bytes }
  }
  if (text.trim() === '') return { ok: false, code: 'EMPTY_BODY', message: 'empty body: no events to process', bytes }
  if (jsonTooDeep(text, MAX_JSON_DEPTH)) {
    return { ok: false, code: 'JSON_TOO_DEEP', message: `invalid json: nested deeper than ${MAX_JSON_DEPTH} levels`, bytes }
  }
  try {
    return { ok: true, bytes, text, json: JSON.parse(text) }
  } catch (error) {
    return { ok: false, code: 'INVALID_JSON', message: `invalid json: ${(error as Error).message}`, bytes }
  }
}
