/**
 * UTF-16 bodies, for bad rows (src/events/raw-body.ts). PagerDuty sends UTF-8 and the
 * collector refuses anything else, but a refused body is kept and its credentials replaced:
 * in UTF-16 every ASCII character is two bytes, one of them 0x00, so `https://u:p@h` read a
 * byte at a time is not a URL and was stored as it came. Which byte order a body is in is
 * known from its label (`utf-16le`, `utf-16be`), else from its bytes: a byte-order mark, or
 * RFC 4627's (section 3) reading of JSON's first two characters, ASCII both, by where the
 * 0x00 bytes of its first four bytes are.
 */

export type Utf16 = 'utf-16le' | 'utf-16be'

/**
 * The WHATWG labels that name UTF-16 without an order. The WHATWG decoder reads all of them as
 * little-endian, so `charset=utf-16` with a big-endian body (FE FF first, RFC 2781's default)
 * was read into other characters, valid ones, its URLs no longer found.
 */
const UNORDERED = new Set(['utf-16', 'unicode', 'ucs-2', 'csunicode', 'iso-10646-ucs-2'])
const LITTLE = new Set(['utf-16le', 'unicodefeff'])
const BIG = new Set(['utf-16be', 'unicodefffe'])

/** What the bytes show: a byte-order mark, else the 0x00 bytes of JSON's first two characters (RFC 4627). */
function shownOrder(bytes: Uint8Array): Utf16 | null {
  const [b0, b1, b2, b3] = bytes
  if (b0 === 0xff && b1 === 0xfe) return 'utf-16le'
  if (b0 === 0xfe && b1 === 0xff) return 'utf-16be'
  if (bytes.length < 4) return null
  if (b0 === 0 && b1 !== 0 && b2 === 0 && b3 !== 0) return 'utf-16be'
  if (b0 !== 0 && b1 === 0 && b2 !== 0 && b3 === 0) return 'utf-16le'
  return null
}

/**
 * The UTF-16 a body is in, or null. A label that names an order is taken at its word; one that
 * names none is read in the order the bytes show, else WHATWG's little-endian; another charset
 * is not UTF-16. With none declared (or one no decoder knows) the bytes decide: what they show
 * as UTF-16 (a mark FF FE or FE FF, a 0x00 byte in each of the first two pairs) is never valid
 * UTF-8 without a NUL, so no body kept as UTF-8 text is read otherwise.
 */
export function utf16Order(bytes: Uint8Array, declared: string | undefined): Utf16 | null {
  const label = declared?.trim().toLowerCase()
  if (label !== undefined && LITTLE.has(label)) return 'utf-16le'
  if (label !== undefined && BIG.has(label)) return 'utf-16be'
  if (label !== undefined && UNORDERED.has(label)) return shownOrder(bytes) ?? 'utf-16le'
  return label === undefined || !knownLabel(label) ? shownOrder(bytes) : null
}

function knownLabel(label: string): boolean {
  try {
    new TextDecoder(label as ConstructorParameters<typeof TextDecoder>[0])
    return true
  } catch {
    return false
  }
}

/** The body's code units as a string, lone surrogates and all (an odd last byte left out). */
export function utf16Units(bytes: Uint8Array, order: Utf16): string {
  const even = bytes.length - (bytes.length % 2)
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, even)
  return (order === 'utf-16le' ? view : Buffer.from(view).swap16()).toString('utf16le')
}

/** `text`'s code units written in `order`, lone surrogates as they are: `utf16Units` undone. */
export function utf16Bytes(text: string, order: Utf16): Uint8Array {
  const bytes = Buffer.from(text, 'utf16le')
  if (order === 'utf-16be') bytes.swap16()
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
