import zlib from 'node:zlib'
import { describe, expect, test } from 'bun:test'
import { keptBody, payloadBytes, payloadEncodingOf, type BodyContext } from '../../src/events/raw-body.ts'
import { badRow } from '../../src/events/bad-row.ts'

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

describe('reading a stored payload back', () => {
  test('base64 with PostgreSQL\'s line breaks is read; base64 cut short, or not base64, is not', () => {
    const bytes = Buffer.from(Array.from({ length: 200 }, (_, i) => i))
    const withBreaks = bytes.toString('base64').replace(/(.{76})/g, '$1\n')
    expect(Buffer.from(payloadBytes(withBreaks, { payload_encoding: 'base64' }) as Uint8Array).equals(bytes)).toBe(true)
    expect(payloadBytes(bytes.toString('base64').slice(0, 101), { payload_encoding: 'base64' })).toBeNull()
    expect(payloadBytes('{"not":"base64"}', { payload_encoding: 'base64' })).toBeNull()
    expect(Buffer.from(payloadBytes('caf\u00e9', {}) as Uint8Array).toString()).toBe('caf\u00e9')
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
})
