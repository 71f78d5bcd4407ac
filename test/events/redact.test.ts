import { describe, expect, test } from 'bun:test'
import { redactBytes, redactCutUrl, redactUrlCredentials, redactUtf16, withoutUserinfo } from '../../src/events/redact.ts'
import { utf16Bytes, utf16Units, type Utf16 } from '../../src/events/utf16.ts'

describe('credentials in URLs', () => {
  test('userinfo is replaced in text and in JSON with escaped slashes', () => {
    expect(redactUrlCredentials('see https://ops:s3cret@collector.example.com/com.pagerduty/v1 now'))
      .toBe('see https://***@collector.example.com/com.pagerduty/v1 now')
    expect(redactUrlCredentials('{"endpoint_url":"https:\\/\\/ops:s3cret@h\\/com.pagerduty\\/v1"}'))
      .toBe('{"endpoint_url":"https:\\/\\/***@h\\/com.pagerduty\\/v1"}')
    expect(redactUrlCredentials('mail ops@example.com, no URL')).toBe('mail ops@example.com, no URL')
    expect(withoutUserinfo('https://u:p@h/x')).toBe('https://***@h/x')
    // Run on from a long token: no word boundary anywhere near the scheme.
    expect(redactUrlCredentials(`ref${'0123456789abcdef'.repeat(3)}https://u:secret@h/x`)).toBe(`ref${'0123456789abcdef'.repeat(3)}https://***@h/x`)
  })

  // RFC 3986 section 3.2: the userinfo ends at the authority's last `@`; Go's and the WHATWG
  // URL parsers read `https://u:p@ss@h/` as password `p@ss` at host `h`.
  test('a password holding an unencoded @ is replaced whole, in a URL and in text', () => {
    expect(withoutUserinfo('https://u:p@ss@h.example/x')).toBe('https://***@h.example/x')
    expect(withoutUserinfo('https://u:p@ss@h.example?aid=a')).toBe('https://***@h.example?aid=a')
    expect(redactUrlCredentials('see https://u:p@s@s@h.example/x and https://v:q@h/y')).toBe('see https://***@h.example/x and https://***@h/y')
    expect(redactUrlCredentials('{"endpoint_url":"https:\\/\\/u:p@ss@h\\/com.pagerduty\\/v1","mail":"ops@example.com"}'))
      .toBe('{"endpoint_url":"https:\\/\\/***@h\\/com.pagerduty\\/v1","mail":"ops@example.com"}')
    expect(redactCutUrl('{"endpoint_url":"https://u:p@ss')).toBe('{"endpoint_url":"https://***')
    expect(withoutUserinfo('https://h.example/x?mail=ops@example.com')).toBe('https://h.example/x?mail=ops@example.com')
  })

  // The authority ends at the first `/`, `?` or `#` (RFC 3986 section 3.2; the WHATWG parser
  // likewise): an `@` in the query or fragment of a URL without a path is not its userinfo's.
  test('an @ in the query or fragment of a URL without a path leaves the host and the query as they are', () => {
    expect(withoutUserinfo('https://u:p@h.example?mail=ops@example.com')).toBe('https://***@h.example?mail=ops@example.com')
    expect(withoutUserinfo('https://h.example?mail=ops@example.com')).toBe('https://h.example?mail=ops@example.com')
    expect(withoutUserinfo('https://u:p@ss@h.example#ops@example.com')).toBe('https://***@h.example#ops@example.com')
    expect(redactUrlCredentials('{"endpoint_url":"https://u:p@h.example?mail=ops@example.com","to":"https://h.example?m=a@b"}'))
      .toBe('{"endpoint_url":"https://***@h.example?mail=ops@example.com","to":"https://h.example?m=a@b"}')
    expect(redactCutUrl('{"endpoint_url":"https://h.example?mail=ops')).toBe('{"endpoint_url":"https://h.example?mail=ops')
    expect(redactCutUrl('{"endpoint_url":"https://u:p@ss')).toBe('{"endpoint_url":"https://***')
  })

  // A rejected body is redacted on the event loop before it is stored: text built so that
  // every position starts a candidate must cost time linear in its length. The unbounded
  // scheme took ~70 s for 1 MiB of the first shape; the timeout is far above the linear cost.
  test('hostile text of 1 MiB is scanned in linear time', () => {
    const shapes = ['a.'.repeat(512 * 1024) + '@', 'a-'.repeat(512 * 1024) + '@', 'x://'.repeat(256 * 1024) + '@', `a://${'b'.repeat(1024 * 1024)}`]
    // String literals read for their escapes: quotes that do and do not close, one literal of 1 MiB.
    const literals = ['"\\'.repeat(512 * 1024), '"\\""'.repeat(256 * 1024), '"\\u0040'.repeat(150 * 1024), `"\\u0040${'a:\\/\\/'.repeat(170 * 1024)}`, `"x\\n${'@'.repeat(1024 * 1024)}`, `"\\n${'a://'.repeat(256 * 1024)}@`]
    for (const text of [...shapes, ...literals]) expect(redactUrlCredentials(text)).toBe(text)
    // Cut, these end in no authority (the others do: `x://@`, its userinfo open at the end).
    for (const text of literals.slice(0, 5)) expect(redactCutUrl(text)).toBe(text)
  }, 10_000)

  // A literal's escapes were read by `replace` with a callback, a call per escape: ~1 s for a
  // 1 MiB literal of them on a 2-core machine (and a gzip body was read inflated, up to 8 times
  // that). 4 MiB here, so the bound sits far from both: 1.3-2.7 s a shape before, 0.06-0.2 s
  // with the scan.
  test.each([
    ['escaped quotes after long runs of backslashes', ('\\'.repeat(99) + '"').repeat(40 * 1024) + '@'],
    ['one literal of escaped @', `"${'\\u0040'.repeat(680 * 1024)}`],
    ['one literal of escaped backslashes', `"${'\\\\'.repeat(2048 * 1024)}@`],
  ])('4 MiB of JSON escapes is read in well under the seconds a call per escape took: %s', (_name, text) => {
    const started = performance.now()
    redactUrlCredentials(text)
    redactCutUrl(text)
    expect(performance.now() - started).toBeLessThan(1000)
  })

  test('a body cut inside a URL\'s userinfo (a 413 keeps its first MAX_BODY_BYTES) keeps no part of it', () => {
    expect(redactCutUrl('{"endpoint_url":"https://alice:TopSec')).toBe('{"endpoint_url":"https://***')
    expect(redactCutUrl('{"endpoint_url":"https:\\/\\/alice:TopSec')).toBe('{"endpoint_url":"https:\\/\\/***')
    // A URL that closed before the cut, or one whose userinfo was whole, is as elsewhere.
    expect(redactCutUrl('{"u":"https://h/x","pad":"abc')).toBe('{"u":"https://h/x","pad":"abc')
    expect(redactCutUrl('{"u":"https://alice:pw@h/x')).toBe('{"u":"https://***@h/x')
    const long = `${'x'.repeat(1024 * 1024)} https://a:b`
    expect(redactCutUrl(long)).toBe(`${'x'.repeat(1024 * 1024)} https://***`)
  })
})

// JSON may write any character of a string as an escape, and must write `"` and `\` as one:
// the patterns, reading the text as written, stopped at the backslash and kept the password.
describe('credentials behind JSON escapes', () => {
  const endpoint = (written: string) => `{"messages":[{"webhook":{"endpoint_url":"${written}"}}]}`
  const redactedEndpoint = (text: string) => (JSON.parse(text) as { messages: { webhook: { endpoint_url: string } }[] }).messages[0]?.webhook.endpoint_url

  test.each([
    ['a quote in the password', 'https://alice:pa\\"ss@h.example/x'],
    ['a backslash in the password', 'https://alice:pa\\\\ss@h.example/x'],
    ['an escaped @ in the password', 'https://alice:p\\u0040ss@h.example/x'],
    ['the userinfo\'s @ escaped', 'https://alice:pw\\u0040h.example/x'],
    ['the slashes escaped as \\u002f', 'https:\\u002f\\u002falice:pw@h.example\\/x'],
    ['the scheme\'s colon escaped', 'https\\u003a//alice:pw@h.example/x'],
    ['the password\'s colon and letters escaped', 'https://alice\\u003a\\u0070\\u0061ss@h.example/x'],
    ['a non-ASCII password written as escapes', 'https://alice:p\\u00e9\\u2603@h.example/x'],
  ])('%s', (_name, written) => {
    const body = endpoint(written)
    expect(redactedEndpoint(redactUrlCredentials(body))).toBe('https://***@h.example/x')
    // In a body that is not JSON, and in one kept as bytes (base64), the same.
    expect(redactUrlCredentials(`${body} NOT JSON`)).toBe(`${redactUrlCredentials(body)} NOT JSON`)
    expect(Buffer.from(redactBytes(Buffer.from(body))).toString()).toBe(redactUrlCredentials(body))
  })

  test('an escape elsewhere in the literal is kept as written when the patterns alone find the credentials', () => {
    expect(redactUrlCredentials('{"u":"https:\\/\\/alice:pw@h\\/x \\u00e9"}')).toBe('{"u":"https:\\/\\/***@h\\/x \\u00e9"}')
  })

  test('a body cut inside an escaped password keeps no part of it', () => {
    expect(redactCutUrl('{"u":"https://alice:pa\\"ss')).toBe('{"u":"https://***')
    expect(redactCutUrl('{"u":"https:\\u002f\\u002falice:TopSec')).toBe('{"u":"https://***')
    expect(Buffer.from(redactBytes(Buffer.from('{"u":"https://alice:pa\\"ss'), true)).toString()).toBe('{"u":"https://***')
  })

  // Every password of these characters (what ends an authority, / ? # and spaces, aside),
  // each character written as itself or as an escape at random: none is left in the text.
  test('property: no password survives, however its URL is escaped', () => {
    let seed = 20261201
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const alphabet = ['a', 'Z', '7', '"', '\\', '@', ':', '%', "'", '{', '}', '\u00e9', '\u2603', '\ud83d\ude00', '&', '=', '+', ';']
    const write = (c: string) => {
      const r = random()
      if (r < 0.3) return Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')
      if (c === '/' && r < 0.6) return '\\/'
      return JSON.stringify(c).slice(1, -1)
    }
    for (let i = 0; i < 3000; i++) {
      const password = Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
      const url = `https://ops:${password}@h.example/com.pagerduty/v1`
      const body = endpoint(Array.from(url).map(write).join(''))
      const stored = redactUrlCredentials(body)
      expect([password, redactedEndpoint(stored)]).toEqual([password, 'https://***@h.example/com.pagerduty/v1'])
      expect(Buffer.from(redactBytes(Buffer.from(body))).toString()).toBe(stored)
    }
  })
})

// In UTF-16 every ASCII character is two bytes, one of them 0x00: read a byte a character
// (redactBytes), `https://u:p@h` is no URL, and such a body was kept with its credentials.
describe('credentials in a UTF-16 body kept as bytes', () => {
  const ORDERS: Utf16[] = ['utf-16le', 'utf-16be']
  const encoded = (text: string, order: Utf16) => Buffer.from(utf16Bytes(text, order))
  let seed = 20261202
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T

  test.each(ORDERS)('%s: replaced as in its text, every other byte as it came, the JSON-escaped forms too', (order) => {
    for (const url of ['https://alice:S3cret@h.example/x', 'https:\\/\\/alice:S3cret@h.example\\/x', 'https://alice:p\\u0040ss@h.example/x', 'https://alice:pa\\"ss@h.example/x']) {
      const text = `\ufeff{"u":"${url}","lone":"\ud800","pair":"\ud83d\ude00"}`
      const stored = redactUtf16(encoded(text, order), order)
      expect(utf16Units(stored, order)).toBe(redactUrlCredentials(text))
      expect(utf16Units(stored, order)).not.toContain('alice')
    }
    // An odd last byte is kept; a body without credentials is the same bytes.
    const odd = Buffer.concat([encoded('{"u":"https://alice:S3cret@h/x"}', order), Buffer.from([0x7d])])
    expect(Buffer.from(redactUtf16(odd, order)).equals(Buffer.concat([encoded('{"u":"https://***@h/x"}', order), Buffer.from([0x7d])]))).toBe(true)
    const clean = encoded('{"u":"https://h/x","mail":"ops@example.com"}', order)
    expect(redactUtf16(clean, order)).toBe(clean)
    // Read a byte a character, as before, nothing was found.
    expect(redactBytes(encoded('{"u":"https://alice:S3cret@h/x"}', order))).toEqual(encoded('{"u":"https://alice:S3cret@h/x"}', order))
  })

  // Random bodies of code units (lone surrogates, NUL, escapes) around a URL with a random
  // password, in both orders, with and without a mark, odd or even: the bytes kept are the
  // text redactUrlCredentials gives written in the same order, and hold no password.
  test('property: the bytes kept are its redacted text in the same order, and no password survives', () => {
    const around = ['a', ' ', '"', '\\', ':', '/', '@', '\u0000', '\ud800', '\udc00', '\ud83d\ude00', '\u00e9', '\u65e5', '\ufeff', '\uffff']
    const secret = ['Q', '7', '\u00e9', '\u2603', '\ud83d\ude00', '\udbff', '%', '+', '\\"', '\\u0040']
    // Inside a literal, `"` and `\` written as JSON's escapes, so the URL's literal stays one.
    const filler = (inLiteral = true) => Array.from({ length: Math.floor(random() * 20) }, () => pick(around)).map((c) => (inLiteral && (c === '"' || c === '\\') ? `\\${c}` : c)).join('')
    for (let i = 0; i < 2000; i++) {
      const password = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pick(secret)).join('')
      const text = `${random() < 0.5 ? '\ufeff' : ''}{"x":"${filler()}","u":"https://ops:${password}@h.example/v1","y":"${filler()}"}${filler(false)}`
      const order = pick(ORDERS)
      const tail = random() < 0.3 ? Buffer.from([Math.floor(random() * 256)]) : Buffer.alloc(0)
      const stored = Buffer.from(redactUtf16(Buffer.concat([encoded(text, order), tail]), order))
      const expected = redactUrlCredentials(text)
      expect(stored.equals(Buffer.concat([encoded(expected, order), tail]))).toBe(true)
      expect(expected).toContain('"u":"https://***@h.example/v1"')
      // A password without escapes: the bytes differ from the body's only where it was.
      if (!password.includes('\\')) expect(stored.equals(Buffer.concat([encoded(text.replace(`ops:${password}@`, '***@'), order), tail]))).toBe(true)
    }
  })

  // A 413 keeps the first MAX_BODY_BYTES: cut anywhere in the userinfo, an odd byte included.
  test.each(ORDERS)('%s: a body cut inside the userinfo, at any byte, keeps no part of the password', (order) => {
    const body = encoded('{"u":"https://ops:S3cr\u00e9t\ud83d\ude00@h.example/x"}', order)
    const from = encoded('{"u":"https://ops:', order).length
    const to = encoded('{"u":"https://ops:S3cr\u00e9t\ud83d\ude00', order).length
    for (let n = from; n <= to; n++) {
      const stored = Buffer.from(redactUtf16(body.subarray(0, n), order, true))
      expect(stored.equals(encoded('{"u":"https://***', order))).toBe(true)
    }
  })
})
