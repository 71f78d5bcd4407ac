/**
 * A refused request's body as its bad row keeps it, losslessly: as text when it is text
 * exactly (valid in the charset it declared, UTF-8 unless it declared another or its bytes
 * show UTF-16, no NUL, not compressed), else its bytes as base64, which the row's `request` column says
 * (`"payload_encoding":"base64"`, with `"content_encoding":"gzip"` for a compressed one).
 * Read as UTF-8 with U+FFFD for what was not, a gzip body or a stray Latin-1 byte was
 * stored as text that no longer said what had come, and PagerDuty does not send it again.
 * Credentials in URLs are replaced either way, inside a gzip or deflate body too, and in a
 * UTF-16 body, declared or not (src/events/utf16.ts).
 */
import zlib from 'node:zlib'
import { rawPayload } from './bad-row.ts'
import type { BadRow } from './event.ts'
import { redactBytes, redactCutUrl, redactUtf16 } from './redact.ts'
import { utf16Bytes, utf16Order } from './utf16.ts'

/** What a bad row's `request` column says of its payload; none of it for text in UTF-8. */
export interface PayloadEncoding {
  /** The payload is the body's bytes as base64 (RFC 4648, with padding). */
  payload_encoding?: 'base64'
  /** The body's Content-Encoding, as sent: the bytes are still compressed. */
  content_encoding?: string
  /** The payload is text read in this charset (WHATWG's name of the one declared), not UTF-8. */
  payload_charset?: string
}

export interface KeptBody { payload: string; encoding: PayloadEncoding }

export interface BodyContext {
  /** The charset its Content-Type declared, if any (src/http/body.ts, contentProblem). */
  charset?: string
  contentEncoding?: string | null
  /** Its first MAX_BODY_BYTES only (a 413): a character or a URL cut at the end is expected. */
  cut?: boolean
  /** How far a compressed body is inflated to look for credentials; a larger one is kept as it came (redactCompressed). */
  maxInflatedBytes: number
}

/** The body's text in `charset` (UTF-8 when none, or one the runtime does not know), or null when it is not valid there. */
function exactText(bytes: Uint8Array, charset: string | undefined, cut: boolean): { text: string; charset: string } | null {
  let decoder: TextDecoder
  try {
    // Any WHATWG label; bun-types names only a few, the runtime knows the rest. ignoreBOM:
    // a byte-order mark is kept as U+FEFF, so the text's bytes are the body's.
    decoder = new TextDecoder((charset ?? 'utf-8') as ConstructorParameters<typeof TextDecoder>[0], { fatal: true, ignoreBOM: true })
  } catch {
    decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  }
  try {
    // A cut body may end inside a character: streamed, those last bytes are left out, not refused.
    const text = decoder.decode(bytes, { stream: cut })
    return text.includes('\u0000') ? null : { text, charset: decoder.encoding }
  } catch {
    return null
  }
}

const identity = (coding: string): boolean => coding === '' || coding === 'identity'

/**
 * A compressed body whose content held credentials, compressed again with them replaced.
 * What cannot be looked into (another coding, not what it says it is, inflating past `max`)
 * is redacted as the bytes that came: a body that says gzip and is plain JSON is common
 * enough (a proxy's header, a hand-made test), and its URLs are in plain sight. Inflated with
 * a sync flush, so a body cut short (a 413's) gives what it holds.
 */
function redactCompressed(bytes: Uint8Array, coding: string, max: number, cut: boolean): Uint8Array {
  const codec = coding === 'gzip' || coding === 'x-gzip' ? { inflate: zlib.gunzipSync, deflate: zlib.gzipSync } : coding === 'deflate' ? { inflate: zlib.inflateSync, deflate: zlib.deflateSync } : null
  if (!codec) return redactBytes(bytes, cut)
  let content: Uint8Array
  try {
    content = codec.inflate(bytes, { maxOutputLength: max, finishFlush: zlib.constants.Z_SYNC_FLUSH })
  } catch {
    return redactBytes(bytes, cut)
  }
  const redacted = redactBytes(content, cut)
  return redacted === content ? bytes : new Uint8Array(codec.deflate(redacted))
}

/** The body as its bad row keeps it (see above). */
export function keptBody(bytes: Uint8Array, body: BodyContext): KeptBody {
  const coding = body.contentEncoding?.trim().toLowerCase() ?? ''
  if (!identity(coding)) {
    const kept = redactCompressed(bytes, coding, body.maxInflatedBytes, body.cut === true)
    return { payload: Buffer.from(kept).toString('base64'), encoding: { payload_encoding: 'base64', content_encoding: (body.contentEncoding ?? '').trim().slice(0, 100) } }
  }
  const cut = body.cut === true
  // A UTF-16 body is read in its own order, whether it said so (`charset=utf-16` and FE FF
  // first is big-endian) or not (FF FE first, or JSON with every other byte 0x00): as UTF-8 it
  // was never valid, and its credentials, read a byte at a time, were never found.
  const order = utf16Order(bytes, body.charset)
  const exact = exactText(bytes, order ?? body.charset, cut)
  // Bytes that read as UTF-16 and hold a URL with credentials in plain ASCII (UTF-8 sent as
  // `charset=utf-16le`) are not that text: read so, the URL was other characters, kept as they were.
  const plainSight = order !== null && redactBytes(bytes, cut) !== bytes
  if (exact && !plainSight) {
    // As text, as a body valid in the charset it declared is, with the charset that gives its
    // bytes back: written in UTF-16 again, the text is the bytes that came but where
    // credentials were replaced. Not base64: PostgreSQL converts no text from or to UTF-16, so
    // a reader of the row could not see in SQL the JSON that came. `bad-rows retry` writes the
    // text in UTF-16 (payloadBytes), so it fails as it did when it came.
    const text = cut ? redactCutUrl(rawPayload(exact.text)) : rawPayload(exact.text)
    return { payload: text, encoding: exact.charset === 'utf-8' ? {} : { payload_charset: exact.charset } }
  }
  // Not text (a lone surrogate, an odd byte, a NUL): its bytes with the credentials found as
  // UTF-16 text and as bytes replaced, the rest as it came.
  const redacted = order === null ? redactBytes(bytes, cut) : redactBytes(redactUtf16(bytes, order, cut), cut)
  return { payload: Buffer.from(redacted).toString('base64'), encoding: { payload_encoding: 'base64' } }
}

/**
 * A stored payload's bytes, as `collector bad-rows retry` reads them: base64 decoded when
 * `encoding` says so, else the text written in its `payload_charset`, UTF-8 when none. Null
 * when it says base64 and the text is not, or names a charset other than UTF-16 (TextEncoder
 * writes only UTF-8): only a body refused for its Content-Type (415, or 413) has one, and
 * those are never retried. A UTF-16 body read back as UTF-8 is JSON that loads: a retry would
 * take what the collector refused (and checked no signature of).
 */
export function payloadBytes(payload: string, encoding: PayloadEncoding): Uint8Array | null {
  if (encoding.payload_encoding !== 'base64') {
    const charset = encoding.payload_charset
    if (charset === 'utf-16le' || charset === 'utf-16be') return utf16Bytes(payload, charset)
    return charset === undefined || charset === 'utf-8' ? new Uint8Array(Buffer.from(payload, 'utf8')) : null
  }
  // Node's decoder skips what is not base64, so it is checked first: a payload cut at a
  // column's width is not whole. Line breaks are PostgreSQL's: encode(..., 'base64') writes
  // one every 76 characters, and decode() reads them.
  const base64 = payload.replace(/[\r\n]/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) return null
  return new Uint8Array(Buffer.from(base64, 'base64'))
}

/** The payload fields of a `request` column's JSON; none for a row without them (text, or from before them). */
export function payloadEncodingOf(request: unknown): PayloadEncoding {
  if (typeof request !== 'string' || !request.includes('payload_')) return {}
  try {
    const r = JSON.parse(request) as Record<string, unknown>
    return {
      ...(r.payload_encoding === 'base64' ? { payload_encoding: 'base64' as const } : {}),
      ...(typeof r.content_encoding === 'string' ? { content_encoding: r.content_encoding } : {}),
      ...(typeof r.payload_charset === 'string' ? { payload_charset: r.payload_charset } : {}),
    }
  } catch {
    return {}
  }
}

/**
 * A bad row whose base64 payload is longer than its column (Redshift's varchar(65535): the
 * base64 of 49,149 bytes), cut on a 4-character boundary: cut anywhere else (the sink cuts
 * strings at the width), decode() and `bad-rows retry` refuse all of it.
 */
export function fitBase64Payload(row: BadRow, width: number): BadRow {
  if (typeof row.payload !== 'string' || row.payload.length <= width || payloadEncodingOf(row.request).payload_encoding !== 'base64') return row
  return { ...row, payload: row.payload.slice(0, width - (width % 4)) }
}
