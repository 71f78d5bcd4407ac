import { describe, expect, test } from 'bun:test'
import { redactCutUrl, redactUrlCredentials, withoutUserinfo } from '../../src/events/redact.ts'

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
    for (const text of shapes) expect(redactUrlCredentials(text)).toBe(text)
  }, 10_000)

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
