import zlib from 'node:zlib'
import { describe, expect, test } from 'bun:test'
import { keptBody, payloadBytes, payloadEncodingOf, type BodyContext } from '../../src/events/raw-body.ts'
import { badRow } from '../../src/events/bad-row.ts'
import { utf16Bytes, utf16Units, type Utf16 } from '../../src/events/utf16.ts'

const MAX = 1024 * 1024
const kept = (bytes: Uint8Array, more: Partial<BodyContext> = {}) => keptBody(bytes, { maxInflatedBytes: MAX, ...more })
/** What a reader gets back: the payload's bytes as the row's encoding says. */
const back = (k: ReturnType<typeof keptBody>) => Buffer.from(payloadBytes(k.payload, k.encoding) as Uint8Array)

describe('a refused body as its bad row keeps it', () => {
  test.each([
    ['UTF-8 text', Buffer.from('{"a":"caf\u00e9 \ud83d\ude00"} NOT JSON'), {}, '{"a":"caf\u00e9 \ud83d\ude00"} NOT JSON', {}],
    ['a byte-order mark, kept as U+FEFF', Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), {}, '\ufeff{}', {}],
    ['Latin-1 it declared', Buffer.from('caf\u00e9', 'latin1'), { charset: 'iso-8859-1' }, 'caf\u00e9', { payload_charset: 'windows-1252' }],
    ['a charset the runtime does not know: read as UTF-8', Buffer.from('{"a":"\u00e9"}'), { charset: 'x-unknown' }, '{"a":"\u00e9"}', {}],
  ])('%s: as text', (_name, bytes, more, payload, encoding) => {
    expect(kept(bytes, more)).toEqual({ payload, encoding })
  })

  test.each([
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {}],
    ['a NUL in UTF-8', Buffer.from('{"a":"\u0000"}'), {}],
    ['not valid in the charset declared', Buffer.from([0x00, 0xd8]), { charset: 'utf-16le' }],
    ['Shift_JIS cut inside a character', Buffer.from([0x7b, 0x82]), { charset: 'shift_jis' }],
  ])('%s: as base64, byte for byte', (_name, bytes, more) => {
    const k = kept(bytes, more)
    expect(k.encoding).toEqual({ payload_encoding: 'base64' })
    expect(k.payload).toBe(bytes.toString('base64'))
    expect(back(k).equals(bytes)).toBe(true)
  })

  test('a compressed body: as base64, with its Content-Encoding, whatever its bytes', () => {
    const gzip = zlib.gzipSync('{"messages":[]}')
    expect(kept(gzip, { contentEncoding: 'gzip' })).toEqual({ payload: gzip.toString('base64'), encoding: { payload_encoding: 'base64', content_encoding: 'gzip' } })
    // Text that says it is compressed is kept as its bytes too: the header is what it came with.
    expect(kept(Buffer.from('{}'), { contentEncoding: ' BR ' }).encoding).toEqual({ payload_encoding: 'base64', content_encoding: 'BR' })
    expect(kept(Buffer.from('{}'), { contentEncoding: 'x'.repeat(500) }).encoding.content_encoding).toHaveLength(100)
  })

  test('credentials inside a gzip or deflate body are replaced in its content, which is compressed again', () => {
    const json = '{"u":"https://alice:S3cret@h.example/x"}'
    for (const [coding, inflate, deflate] of [['gzip', zlib.gunzipSync, zlib.gzipSync], ['x-gzip', zlib.gunzipSync, zlib.gzipSync], ['deflate', zlib.inflateSync, zlib.deflateSync]] as const) {
      const k = kept(deflate(json), { contentEncoding: coding })
      expect(inflate(back(k)).toString()).toBe('{"u":"https://***@h.example/x"}')
    }
    // A body cut short (a 413) gives what it holds.
    const long = zlib.gzipSync(`{"u":"https://alice:S3cret@h.example/x","pad":"${Math.random().toString(36).repeat(2000)}"}`)
    const cut = kept(long.subarray(0, long.length - 100), { contentEncoding: 'gzip', cut: true })
    expect(zlib.gunzipSync(back(cut), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString()).toStartWith('{"u":"https://***@h.example/x"')
  })

  test('a compressed body that inflates past the bound, or is not what it says, is kept as it came', () => {
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"u":"https://alice:S3cret@h/x","pad":"'), Buffer.alloc(MAX, 0x61)]))
    expect(back(kept(bomb, { contentEncoding: 'gzip' })).equals(bomb)).toBe(true)
    expect(back(kept(Buffer.from('not gzip'), { contentEncoding: 'gzip' })).toString()).toBe('not gzip')
  })

  test('a body that says it is compressed and is not, or in a coding not looked into, has the credentials in plain sight replaced', () => {
    for (const coding of ['gzip', 'br', 'x-unknown']) {
      expect(back(kept(Buffer.from('{"u":"https://alice:S3cret@h/x"}'), { contentEncoding: coding })).toString()).toBe('{"u":"https://***@h/x"}')
    }
  })

  test('credentials in a body kept as base64 are replaced, a password with non-ASCII characters whole', () => {
    const bytes = Buffer.concat([Buffer.from('{"u":"https://alice:p\u00e0ss@h.example/x"}'), Buffer.from([0xff])])
    expect(back(kept(bytes)).toString('latin1')).toBe('{"u":"https://***@h.example/x"}\u00ff')
  })

  test('a body cut inside a character keeps the characters before it as text, and its open URL is redacted', () => {
    const bytes = Buffer.from('{"a":"\u00e9\u00e9"}').subarray(0, 8)
    expect(kept(bytes, { cut: true })).toEqual({ payload: '{"a":"\u00e9', encoding: {} })
    expect(kept(Buffer.from('{"u":"https://alice:TopSec'), { cut: true }).payload).toBe('{"u":"https://***')
  })
})

// A UTF-16 body, said or not: kept before as base64 (or, `charset=utf-16` and big-endian, as
// text read little-endian) with the credentials in it as they came.
describe('a refused UTF-16 body', () => {
  const ORDERS: Utf16[] = ['utf-16le', 'utf-16be']
  const encoded = (text: string, order: Utf16) => Buffer.from(utf16Bytes(text, order))
  const MARK = '\ufeff'
  const json = '{"messages":[{"webhook":{"endpoint_url":"https://alice:S3cret@h.example/x"},"subject":"caf\u00e9 \ud83d\ude00"}]}'
  const redacted = json.replace('alice:S3cret@', '***@')

  const cases = ORDERS.flatMap((order) => [
    [`${order} with a mark, no charset`, order, MARK, undefined],
    [`${order} without a mark, no charset (RFC 4627's 0x00 bytes)`, order, '', undefined],
    [`${order} with a mark, charset=utf-16`, order, MARK, 'utf-16'],
    [`${order} without a mark, charset=utf-16`, order, '', 'utf-16'],
    [`${order} with a mark, charset=${order}`, order, MARK, order],
  ] as const)

  test.each(cases)('%s: its text with the credentials replaced, and the charset that gives its bytes back', (_name, order, mark, charset) => {
    const k = kept(encoded(mark + json, order), charset === undefined ? {} : { charset })
    expect(k).toEqual({ payload: mark + redacted, encoding: { payload_charset: order } })
    // Read back: the bytes that came, but for the credentials.
    expect(back(k).equals(encoded(mark + redacted, order))).toBe(true)
  })

  test.each(ORDERS)('%s not text (a lone surrogate, an odd byte, a NUL): base64 of its bytes, the credentials replaced as in its text', (order) => {
    for (const [text, tail] of [[`${MARK}{"u":"https://alice:S3cret@h/x","s":"\udc00"}`, []], [`${MARK}{"u":"https://alice:S3cret@h/x"}`, [0x7d]], [`{"u":"https://alice:S3cret@h/x","n":"\u0000"}`, []]] as const) {
      const k = kept(Buffer.concat([encoded(text, order), Buffer.from(tail)]))
      expect(k.encoding).toEqual({ payload_encoding: 'base64' })
      expect(back(k).equals(Buffer.concat([encoded(text.replace('alice:S3cret@', '***@'), order), Buffer.from(tail)]))).toBe(true)
    }
  })

  test('UTF-8 sent as charset=utf-16le reads as other characters: its credentials, in plain sight, are replaced and it is kept as bytes', () => {
    const utf8 = Buffer.from('{"u":"https://alice:S3cret@h.example/x"}')
    expect(utf8.length % 2).toBe(0)
    const k = kept(utf8, { charset: 'utf-16le' })
    expect(k.encoding).toEqual({ payload_encoding: 'base64' })
    expect(back(k).toString()).toBe('{"u":"https://***@h.example/x"}')
  })

  test('what is not UTF-16 is kept as before: UTF-8 text, and bytes without its 0x00 pattern', () => {
    expect(kept(Buffer.from('{"a":"\u00e9"}'))).toEqual({ payload: '{"a":"\u00e9"}', encoding: {} })
    const notText = Buffer.from([0x7b, 0xff, 0xfe, 0x7d])
    expect(kept(notText)).toEqual({ payload: notText.toString('base64'), encoding: { payload_encoding: 'base64' } })
  })

  // Random credentials in random bodies, both orders, with and without a mark, odd or even,
  // with a lone surrogate or not, whole or cut at MAX_BODY_BYTES: no password survives, and
  // what a reader gets back is the body's bytes but for the credentials.
  test('property: no password survives, and the rest reads back byte for byte', () => {
    let seed = 20261203
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
    const secret = ['Q', '7', '\u00e9', '\u2603', '\ud83d\ude00', '%', '+', '!', '~']
    const around = ['a', ' ', ':', '/', '@', '\u00e9', '\u65e5', '\ud83d\ude00']
    const filler = () => Array.from({ length: Math.floor(random() * 30) }, () => pick(around)).join('')
    const passwordOf = (text: string) => text.match(/ops:([^@]*)@/)?.[1]
    const seen = new Map<string, number>()
    for (let i = 0; i < 2000; i++) {
      const password = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pick(secret)).join('')
      const lone = random() < 0.3 ? pick(['\ud800', '\udfff']) : ''
      const text = `${random() < 0.5 ? MARK : ''}{"x":"${filler()}${lone}","u":"https://ops:${password}@h.example/v1","y":"${filler()}"}`
      const order = pick(ORDERS)
      const tail = random() < 0.3 ? Buffer.from([0x22]) : Buffer.alloc(0)
      const whole = Buffer.concat([encoded(text, order), tail])
      const cutAt = random() < 0.3 ? Math.floor(random() * whole.length) + 1 : whole.length
      const k = kept(whole.subarray(0, cutAt), { cut: cutAt < whole.length, ...(random() < 0.3 ? { charset: 'utf-16' } : {}) })
      const stored = back(k)
      expect(passwordOf(utf16Units(stored, order))).toBeUndefined()
      // The body that came with its credentials replaced, and the rest byte for byte; cut, its
      // beginning, or the bytes before a userinfo the cut ends in, then `***`.
      const expected = Buffer.concat([encoded(text.replace(`ops:${password}@`, '***@'), order), tail])
      if (cutAt === whole.length) expect(stored.equals(expected)).toBe(true)
      else {
        const openUserinfo = Buffer.concat([whole.subarray(0, encoded(text.slice(0, text.indexOf('ops:')), order).length), encoded('***', order)])
        // At most a character cut in two is left out (a surrogate pair's first half and an odd byte).
        expect((expected.length - stored.length <= whole.length - cutAt + 3 && stored.equals(expected.subarray(0, stored.length))) || stored.equals(openUserinfo)).toBe(true)
      }
      seen.set(`${k.encoding.payload_encoding ?? k.encoding.payload_charset}/${cutAt < whole.length ? 'cut' : 'whole'}`, (seen.get(`${k.encoding.payload_encoding ?? k.encoding.payload_charset}/${cutAt < whole.length ? 'cut' : 'whole'}`) ?? 0) + 1)
    }
    // Each way of keeping it, whole and cut, was met often enough to mean something.
    expect([...seen.keys()].sort()).toEqual(['base64/cut', 'base64/whole', 'utf-16be/cut', 'utf-16be/whole', 'utf-16le/cut', 'utf-16le/whole'])
    expect(Math.min(...seen.values())).toBeGreaterThan(50)
  })
})

describe('reading a stored payload back', () => {
  test('base64 with PostgreSQL\'s line breaks is read; base64 cut short, or not base64, is not', () => {
    const bytes = Buffer.from(Array.from({ length: 200 }, (_, i) => i))
    const withBreaks = bytes.toString('base64').replace(/(.{76})/g, '$1\n')
    expect(Buffer.from(payloadBytes(withBreaks, { payload_encoding: 'base64' }) as Uint8Array).equals(bytes)).toBe(true)
    expect(payloadBytes(bytes.toString('base64').slice(0, 101), { payload_encoding: 'base64' })).toBeNull()
    expect(payloadBytes('{"not":"base64"}', { payload_encoding: 'base64' })).toBeNull()
    expect(Buffer.from(payloadBytes('caf\u00e9', {}) as Uint8Array).toString()).toBe('caf\u00e9')
  })

  // `bad-rows retry` reads them so: read as UTF-8, a UTF-16 body refused as INVALID_UTF8 was
  // JSON that loaded, a body the collector had refused.
  test('text kept in UTF-16 is written back in it, its mark and lone surrogates included; text in a charset it cannot write gives null', () => {
    const text = '\ufeff{"a":"caf\u00e9 \ud800"}'
    expect(Buffer.from(payloadBytes(text, { payload_charset: 'utf-16le' }) as Uint8Array).equals(Buffer.from(text, 'utf16le'))).toBe(true)
    expect(Buffer.from(payloadBytes(text, { payload_charset: 'utf-16be' }) as Uint8Array).equals(Buffer.from(text, 'utf16le').swap16())).toBe(true)
    expect(payloadBytes('caf\u00e9', { payload_charset: 'windows-1252' })).toBeNull()
  })

  test('the request column says how; a row without it, or from before it, is text', () => {
    const ctx = { receivedAt: new Date(0), query: { aid: 'a' }, ipAddress: null, userAgent: null, webhookId: null, requestId: 'r' }
    const row = badRow(ctx, 'request', 'UNSUPPORTED_MEDIA_TYPE', [{ path: '', message: 'm' }], null, 'AAEC', { payload_encoding: 'base64', content_encoding: 'gzip' })
    expect(payloadEncodingOf(row.request)).toEqual({ payload_encoding: 'base64', content_encoding: 'gzip' })
    expect(JSON.parse(row.detail)).toEqual([{ path: '', message: 'm' }, { path: '/payload', message: 'the body is kept as base64, not being UTF-8 text (Content-Encoding "gzip"): decode(payload, \'base64\') gives its bytes' }])
    expect(payloadEncodingOf(badRow(ctx, 'request', 'INVALID_JSON', [], null, '{').request)).toEqual({})
    expect(JSON.parse(badRow(ctx, 'request', 'INVALID_JSON', [], null, '{').detail)).toEqual([])
    for (const request of [null, undefined, '', '{"query":{}}', 'not json', '{"payload_encoding":"hex"}']) expect(payloadEncodingOf(request)).toEqual({})
  })

  // A UTF-16 body refused as INVALID_UTF8 is kept as its text, JSON that reads well: the detail
  // says why it failed, for a table without the request column too.
  test('a row kept as text in another charset says so in its detail', () => {
    const ctx = { receivedAt: new Date(0), query: {}, ipAddress: null, userAgent: null, webhookId: null, requestId: 'r' }
    const row = badRow(ctx, 'request', 'INVALID_UTF8', [{ path: '', message: 'm' }], null, '\ufeff{}', { payload_charset: 'utf-16be' })
    expect(payloadEncodingOf(row.request)).toEqual({ payload_charset: 'utf-16be' })
    expect(JSON.parse(row.detail)).toEqual([{ path: '', message: 'm' }, { path: '/payload', message: 'the body is kept as its text, read in utf-16be, not UTF-8: that text written in utf-16be gives its bytes' }])
  })
})
