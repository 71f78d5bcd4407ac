/**
 * Credentials in URLs (`https://user:password@host/...`): the README tells v1/v2 users to put
 * basic auth in the webhook URL, and v2 messages repeat that URL. They are replaced by `***`
 * before anything is stored, the spool on disk included.
 */
import { utf16Bytes, utf16Units, type Utf16 } from './utf16.ts'

/**
 * A URL's userinfo, after its scheme: up to the authority's last `@` (RFC 3986 section 3.2;
 * Go's and the WHATWG URL parsers read `https://u:p@ss@h/` as the password `p@ss`). The
 * authority ends at the first `/`, `?` or `#`: an `@` in the query of a URL without a path
 * (`https://u:p@h?to=ops@example.com`) is not the userinfo's, and taking it lost the host.
 */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i

/** `url` with its userinfo replaced by `***` (unchanged when it has none). */
export const withoutUserinfo = (url: string): string => url.replace(URL_USERINFO, '$1***@')

/**
 * Userinfo of any URL inside text (JSON too, where `/` may be escaped as `\/`). The scheme is
 * bounded (real ones are a few letters): unbounded, text like `a.a.a.…@` (every letter a
 * start, each scanning to the end) took time quadratic in its length, 18 s for a 512 KiB
 * rejected body, during which the event loop answered nothing. No word boundary before it:
 * a URL run on from 32 letters or digits (`ref0123…https://u:p@h`) would have none within
 * reach; the match then takes a few of those letters into the scheme, and `$1` keeps them.
 * The userinfo runs to the authority's last `@` (not past its `/`, `?` or `#`), as in
 * URL_USERINFO; the scan still stops at the first `/`, which every later candidate's `//` is,
 * so the cost stays linear. `space` is what ends it besides: `\s` in text; in bytes read one
 * a character (`redactBytes`), ASCII's only, since 0xA0 (which `\s` counts) is also a byte of
 * UTF-8 characters (`à` is C3 A0): a password holding one would be kept.
 */
const patterns = (space: string, ends: string) => ({
  userinfo: new RegExp(`([a-z][a-z0-9+.-]{0,31}:(?:\\\\?\\/){2})[^/?#${ends}${space}]+@`, 'gi'),
  openAtEnd: new RegExp(`([a-z][a-z0-9+.-]{0,31}:(?:\\\\?\\/){2})[^/?#${ends}${space}]+$`, 'i'),
})
/**
 * As written, a `"` ends a JSON string and a `\` starts an escape, so neither is taken into a
 * userinfo; in a string literal as JSON reads it (`redactEscaped`), they are its characters.
 */
const WRITTEN = '\\\\"'
const ASCII_SPACE = '\\t\\n\\v\\f\\r '
const TEXT = { written: patterns('\\s', WRITTEN), read: patterns('\\s', '') }
const BYTES = { written: patterns(ASCII_SPACE, WRITTEN), read: patterns(ASCII_SPACE, '') }
type Patterns = typeof TEXT
type Pattern = Patterns['written']

/** A JSON escape's character after its backslash -> the UTF-16 code unit it stands for (`u` aside). */
const SIMPLE_ESCAPES = new Map([[0x22, 0x22], [0x5c, 0x5c], [0x2f, 0x2f], [0x62, 0x08], [0x66, 0x0c], [0x6e, 0x0a], [0x72, 0x0d], [0x74, 0x09]])
const hexDigit = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1)
/** Code units made into a string at a time (an argument list of this length is safe). */
const UNITS_AT_A_TIME = 8192

/**
 * A literal's text with its JSON escapes read (one that is not JSON's stays as written), as
 * UTF-16 code units, so `\ud800` alone stays the lone surrogate JSON reads. A scan, not
 * `replace` with a callback: a call per escape took ~1 s for a 1 MiB literal of them, and a
 * gzip body is read inflated; this is 30-90 ms.
 */
function unescape(s: string): string {
  if (!s.includes('\\')) return s
  const units = new Uint16Array(s.length)
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const simple = c === 0x5c ? SIMPLE_ESCAPES.get(s.charCodeAt(i + 1)) : undefined
    if (simple !== undefined) {
      units[n++] = simple
      i++
    } else if (c === 0x5c && s.charCodeAt(i + 1) === 0x75) {
      const d0 = hexDigit(s.charCodeAt(i + 2)), d1 = hexDigit(s.charCodeAt(i + 3)), d2 = hexDigit(s.charCodeAt(i + 4)), d3 = hexDigit(s.charCodeAt(i + 5))
      const valid = (d0 | d1 | d2 | d3) >= 0
      units[n++] = valid ? (d0 << 12) | (d1 << 8) | (d2 << 4) | d3 : c
      if (valid) i += 5
    } else {
      units[n++] = c
    }
  }
  let read = ''
  for (let at = 0; at < n; at += UNITS_AT_A_TIME) read += String.fromCharCode(...units.subarray(at, Math.min(n, at + UNITS_AT_A_TIME)))
  return read
}

/** `text` with each URL's userinfo replaced, and with an authority open at its end when `open`. */
const patternsIn = (text: string, p: Pattern, open: boolean): string => {
  const redacted = text.includes('@') ? text.replace(p.userinfo, '$1***@') : text
  return open ? redacted.replace(p.openAtEnd, '$1***') : redacted
}

/**
 * Credentials a JSON escape hides from the patterns: `https://u:pa\"ss@h` (a quote in the
 * password), `p\u0040ss`, `https:\u002f\u002fu:pw@h`, `u:pw\u0040h`. Each string literal
 * holding a backslash is read as JSON reads it and, when that holds credentials, written
 * again with them replaced: as written with the patterns' replacement when that reads the
 * same (its `\/` kept), else in JSON's own form. In bytes (`latin1`), what is past U+00FF is
 * written as an escape: one character there is one byte. Literals are found as jsonTooDeep
 * (src/http/body.ts) finds them, with indexOf: a regular expression over a 1 MiB literal took
 * 2-3 s. A literal still open at the end of the text (a body cut, or not JSON) ends there.
 */
function redactEscaped(text: string, p: Patterns, cut: boolean, latin1: boolean): string {
  if (!text.includes('\\')) return text
  const parts: string[] = []
  let done = 0
  for (let open = text.indexOf('"'); open !== -1;) {
    let close = text.indexOf('"', open + 1)
    for (;;) {
      if (close === -1) break
      let backslashes = 0
      while (text.charCodeAt(close - 1 - backslashes) === 0x5c) backslashes++
      if ((backslashes & 1) === 0) break
      close = text.indexOf('"', close + 1)
    }
    const body = text.slice(open + 1, close === -1 ? text.length : close)
    const written = body.includes('\\') ? redactLiteral(body, p, cut && close === -1, latin1) : body
    if (written !== body) {
      parts.push(text.slice(done, open + 1), written)
      done = close === -1 ? text.length : close
    }
    if (close === -1) break
    open = text.indexOf('"', close + 1)
  }
  return done === 0 ? text : parts.join('') + text.slice(done)
}

/** A string literal's text (between its quotes) with the credentials it holds as JSON reads it replaced; `open`: it runs to a cut end. */
function redactLiteral(body: string, p: Patterns, open: boolean, latin1: boolean): string {
  const read = unescape(body)
  if (!read.includes('@') && !open) return body
  const redacted = patternsIn(read, p.read, open)
  if (redacted === read) return body
  const asWritten = patternsIn(body, p.written, open)
  if (unescape(asWritten) === redacted) return asWritten
  const json = JSON.stringify(redacted).slice(1, -1)
  return latin1 ? json.replace(/[\u0100-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json
}

function redact(text: string, p: Patterns, cut: boolean, latin1: boolean): string {
  const unescaped = redactEscaped(text, p, cut, latin1)
  const redacted = unescaped.includes('@') ? unescaped.replace(p.written.userinfo, '$1***@') : unescaped
  if (!cut) return redacted
  // Only the end can be open: look at its last few KB, not the whole megabyte.
  const from = Math.max(0, redacted.length - 4096)
  return redacted.slice(0, from) + redacted.slice(from).replace(p.written.openAtEnd, '$1***')
}

/** Text, a request body that could not be parsed say, with every URL's userinfo replaced. */
export const redactUrlCredentials = (text: string): string => redact(text, TEXT, false, false)

/**
 * The end of a body cut short (at MAX_BODY_BYTES) can be a URL cut inside its userinfo,
 * `https://alice:TopSec`, before the `@` that marks it as one: an authority still open at the
 * very end is replaced by `***` (a cut host name goes with it; the body is not whole anyway).
 */
export const redactCutUrl = (text: string): string => redact(text, TEXT, true, false)

/**
 * Bytes that are not text (a body kept as base64), redacted as text is: URLs are ASCII, so
 * read one byte a character they are found whatever the rest is. `cut`: as `redactCutUrl`.
 */
export function redactBytes(bytes: Uint8Array, cut = false): Uint8Array {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  const redacted = redact(text, BYTES, cut, true)
  return redacted === text ? bytes : new Uint8Array(Buffer.from(redacted, 'latin1'))
}

/**
 * A UTF-16 body kept as bytes (src/events/raw-body.ts), redacted as its text is
 * (`redactUrlCredentials`): read a code unit a character, lone surrogates and all, and written
 * back in the same order, so only the credentials replaced differ from what came (an odd last
 * byte is kept as it came). Read a byte a character, its URLs are not found: every ASCII
 * character there is two bytes, one of them 0x00. `cut`: as `redactCutUrl`; the odd last byte
 * of a body cut short is half a character, maybe of a password open at the end, so once
 * anything is replaced it goes too (as the body's text leaves it out).
 */
export function redactUtf16(bytes: Uint8Array, order: Utf16, cut = false): Uint8Array {
  const text = utf16Units(bytes, order)
  const redacted = redact(text, TEXT, cut, false)
  if (redacted === text) return bytes
  const written = utf16Bytes(redacted, order)
  if (bytes.length % 2 === 0 || cut) return written
  const out = new Uint8Array(written.length + 1)
  out.set(written)
  out[written.length] = bytes[bytes.length - 1] as number
  return out
}
