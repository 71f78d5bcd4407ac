/**
 * A refused body's bytes, read back from atomic.bad_rows as the README says to read them,
 * are the bytes sent: bodies that are not text (gzip, bytes not valid in their charset, a
 * NUL) as base64, text as it was. Against a real collector on port 0 and a fresh database.
 */
import zlib from 'node:zlib'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Collector } from '../../src/app.ts'
import { eventually, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'

let db: TestDatabase
let collector: Collector
let base: string

beforeAll(async () => {
  db = await freshDatabase('bad_row_bytes')
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('bad-row-bytes'), MAX_BODY_BYTES: '4096' })
  base = collector.url.href.replace(/\/$/, '')
})

afterAll(async () => {
  await collector.stop()
  await db.drop()
})

/** The README's reading of a payload: base64 decoded when the request column says so, else the text's UTF-8. */
async function storedBytes(aid: string): Promise<{ reason: string; bytes: Buffer; request: Record<string, unknown> }> {
  const rows = async () => db.sql`
    select reason, request, case when request::jsonb->>'payload_encoding' = 'base64' then decode(payload, 'base64') else convert_to(payload, 'UTF8') end as bytes
    from atomic.bad_rows where request::jsonb->'query'->>'aid' = ${aid}`
  await eventually(async () => (await rows()).length === 1, 20_000, `the bad row of ${aid}`)
  const [row] = await rows()
  return { reason: String(row?.reason), bytes: Buffer.from(row?.bytes as Uint8Array), request: JSON.parse(String(row?.request)) as Record<string, unknown> }
}

const post = (aid: string, body: Uint8Array, headers: Record<string, string>) =>
  fetch(`${base}/com.pagerduty/v1?aid=${aid}`, { method: 'POST', headers, body })

const v3 = readFixture('v3', 'incident.triggered__zulip-fixture-2021.json')
const latin1Json = Buffer.from('{"messages":[{"subject":"caf\u00e9 \u00fcber"}]}', 'latin1')

describe('a refused body that is not text is kept byte for byte', () => {
  const cases: [string, Uint8Array, Record<string, string>, number, string, Record<string, unknown>][] = [
    ['gzip-encoded JSON', zlib.gzipSync(v3), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 415, 'UNSUPPORTED_MEDIA_TYPE', { payload_encoding: 'base64', content_encoding: 'gzip' }],
    ['JSON with a Latin-1 byte, no charset declared', latin1Json, { 'content-type': 'application/json' }, 400, 'INVALID_UTF8', { payload_encoding: 'base64' }],
    ['bytes not valid in the charset declared (a lone UTF-16 surrogate)', Buffer.from([0x7b, 0x00, 0x00, 0xd8, 0x7d, 0x00]), { 'content-type': 'application/json; charset=utf-16le' }, 415, 'UNSUPPORTED_MEDIA_TYPE', { payload_encoding: 'base64' }],
    ['valid UTF-8 holding a NUL', Buffer.from('{"messages":[{"a":"x\u0000y"}]}'), { 'content-type': 'application/json' }, 400, 'INVALID_JSON', { payload_encoding: 'base64' }],
  ]

  test.each(cases)('%s', async (name, body, headers, status, reason, encoding) => {
    const aid = `bytes-${cases.findIndex((c) => c[0] === name)}`
    const res = await post(aid, body, headers)
    expect(res.status).toBe(status)
    const stored = await storedBytes(aid)
    expect(stored.reason).toBe(reason)
    expect(stored.bytes.equals(Buffer.from(body))).toBe(true)
    expect(stored.request).toMatchObject(encoding)
  })

  test('a gzip body is still the JSON sent once base64-decoded and gunzipped', async () => {
    const stored = await storedBytes('bytes-0')
    expect(zlib.gunzipSync(stored.bytes).toString()).toBe(v3)
  })
})

describe('a refused body that is text is kept as text, as before', () => {
  test('UTF-8 that is not JSON: the payload is the text, and the request column says nothing of an encoding', async () => {
    const text = '{"messages":[{"subject":"caf\u00e9 \u65e5\u672c \ud83d\ude00"}] NOT JSON'
    expect((await post('text-utf8', Buffer.from(text), { 'content-type': 'application/json' })).status).toBe(400)
    const [row] = await (async () => {
      await storedBytes('text-utf8')
      return db.sql`select payload, request from atomic.bad_rows where request::jsonb->'query'->>'aid' = 'text-utf8'`
    })()
    expect(row?.payload).toBe(text)
    expect(Object.keys(JSON.parse(String(row?.request)))).toEqual(['query', 'user_ipaddress', 'useragent', 'webhook_id'])
  })

  test('text valid in the Latin-1 it declared: the text, with the charset that gives its bytes back', async () => {
    expect((await post('text-latin1', latin1Json, { 'content-type': 'application/json; charset=ISO-8859-1' })).status).toBe(415)
    const [row] = await (async () => {
      await storedBytes('text-latin1')
      // The text's windows-1252 bytes taken here, not by convert_to(payload, 'WIN1252'): on the
      // embedded database (PGlite 0.5.14) that conversion never returns (README).
      return db.sql`select payload, request::jsonb->>'payload_charset' as charset from atomic.bad_rows where request::jsonb->'query'->>'aid' = 'text-latin1'`
    })()
    expect(row?.payload).toBe('{"messages":[{"subject":"caf\u00e9 \u00fcber"}]}')
    expect(row?.charset).toBe('windows-1252')
    // Every character here is below U+0100, where windows-1252 and Latin-1 agree.
    expect(Buffer.from(String(row?.payload), 'latin1').equals(latin1Json)).toBe(true)
  })

  test('a body cut at MAX_BODY_BYTES inside a character keeps the whole characters before it as text', async () => {
    const text = `{"messages":[{"pad":"${'\u00e9'.repeat(3000)}"}]}`
    const res = await post('text-cut', Buffer.from(text), { 'content-type': 'application/json' })
    expect(res.status).toBe(413)
    const stored = await storedBytes('text-cut')
    // 4096 bytes: the 21 of `{"messages":[{"pad":"`, then 2037 é and half of the next.
    expect(stored.bytes.equals(Buffer.from(text).subarray(0, 4095))).toBe(true)
    expect(stored.request.payload_encoding).toBeUndefined()
  })
})

describe('credentials in a body kept as base64 are replaced as in text', () => {
  test('a URL password in a body that is not UTF-8', async () => {
    const body = Buffer.concat([Buffer.from('{"messages":[{"webhook":{"endpoint_url":"https://alice:S3cret\u00e0pw@collector.example.com/x"},"x":"'), Buffer.from([0xff]), Buffer.from('"}]}')])
    expect((await post('cred-bytes', body, { 'content-type': 'application/json' })).status).toBe(400)
    const stored = await storedBytes('cred-bytes')
    expect(stored.bytes.toString('latin1')).not.toContain('S3cret')
    expect(stored.bytes.equals(Buffer.from(body.toString('latin1').replace(/alice:S3cret[^@]*@/, '***@'), 'latin1'))).toBe(true)
  })

  test('a URL password inside a gzip body: the content, gunzipped, has it replaced', async () => {
    const json = '{"messages":[{"event":"incident.trigger","webhook":{"endpoint_url":"https://alice:S3cretPw@collector.example.com/com.pagerduty/v1"}}]}'
    expect((await post('cred-gzip', zlib.gzipSync(json), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(415)
    const stored = await storedBytes('cred-gzip')
    expect(zlib.gunzipSync(stored.bytes).toString()).toBe(json.replace('alice:S3cretPw@', '***@'))
  })
})

// A UTF-16 body, declared or not: the answer is the one it always got (INVALID_UTF8 for a mark
// FF FE or FE FF, INVALID_JSON for JSON with every other byte 0x00, 415 for a charset), and its
// bad row kept it before as base64 (or, `charset=utf-16` and big-endian, as text read
// little-endian) with the credentials in it as they came.
describe('a refused UTF-16 body: its credentials replaced, the rest byte for byte', () => {
  const json = '{"messages":[{"event":"incident.trigger","webhook":{"endpoint_url":"https://alice:S3cretPw@collector.example.com/com.pagerduty/v1"},"subject":"caf\u00e9 \u65e5\u672c \ud83d\ude00"}]}'
  const ascii = json.replace(/"subject":"[^"]*"/, '"subject":"cafe"')
  const le = (text: string) => Buffer.from(text, 'utf16le')
  const be = (text: string) => Buffer.from(text, 'utf16le').swap16()
  const mark = '\ufeff'
  const without = (text: string) => text.replace('alice:S3cretPw@', '***@')

  /** The bytes of a row's payload: base64 decoded in SQL, text written in its payload_charset (as `iconv -t UTF-16LE` would). */
  async function stored(aid: string): Promise<{ reason: string; bytes: Buffer; request: Record<string, unknown>; payload: string }> {
    const rows = async () => db.sql`select reason, payload, request, case when request::jsonb->>'payload_encoding' = 'base64' then decode(payload, 'base64') end as bytes from atomic.bad_rows where request::jsonb->'query'->>'aid' = ${aid}`
    await eventually(async () => (await rows()).length === 1, 20_000, `the bad row of ${aid}`)
    const [row] = await rows()
    const request = JSON.parse(String(row?.request)) as Record<string, unknown>
    const payload = String(row?.payload)
    const bytes = row?.bytes ? Buffer.from(row.bytes as Uint8Array) : request.payload_charset === 'utf-16be' ? be(payload) : le(payload)
    return { reason: String(row?.reason), bytes, request, payload }
  }

  const cases: [string, Buffer, Buffer, string, number, string, Record<string, unknown>][] = [
    ['little-endian with a mark, no charset', le(mark + json), le(mark + without(json)), 'application/json', 400, 'INVALID_UTF8', { payload_charset: 'utf-16le' }],
    ['big-endian without a mark, no charset', be(json), be(without(json)), 'application/json', 400, 'INVALID_UTF8', { payload_charset: 'utf-16be' }],
    // ASCII only, it is valid UTF-8, NULs and all: JSON.parse refuses it.
    ['little-endian ASCII without a mark, no charset', le(ascii), le(without(ascii)), 'application/json', 400, 'INVALID_JSON', { payload_charset: 'utf-16le' }],
    ['big-endian with a mark, charset=utf-16', be(mark + json), be(mark + without(json)), 'application/json; charset=utf-16', 415, 'UNSUPPORTED_MEDIA_TYPE', { payload_charset: 'utf-16be' }],
    ['little-endian with a lone surrogate', le(`${mark}${json} \udc00`), le(`${mark}${without(json)} \udc00`), 'application/json', 400, 'INVALID_UTF8', { payload_encoding: 'base64' }],
    ['big-endian ASCII of an odd length', Buffer.concat([be(ascii), Buffer.from([0x0a])]), Buffer.concat([be(without(ascii)), Buffer.from([0x0a])]), 'application/json', 400, 'INVALID_JSON', { payload_encoding: 'base64' }],
  ]

  test.each(cases)('%s', async (name, body, expected, contentType, status, reason, encoding) => {
    const aid = `utf16-${cases.findIndex((c) => c[0] === name)}`
    const res = await post(aid, body, { 'content-type': contentType })
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(reason)
    const row = await stored(aid)
    expect(row.reason).toBe(reason)
    expect(row.request).toMatchObject(encoding)
    expect(row.bytes.toString('latin1')).not.toContain('S\u00003')
    expect(row.bytes.equals(expected)).toBe(true)
    if (encoding.payload_charset) expect(row.payload).toContain('"endpoint_url":"https://***@collector.example.com/com.pagerduty/v1"')
  })

  test('one cut at MAX_BODY_BYTES inside the password keeps the bytes before its userinfo, then ***', async () => {
    const prefix = `{"messages":[{"pad":"${'x'.repeat(1979)}","webhook":{"endpoint_url":"https://`
    const body = le(`${prefix}alice:S3cretPw@collector.example.com/com.pagerduty/v1"}}]}${' '.repeat(2000)}`)
    // MAX_BODY_BYTES (4096) end 5 characters into the password.
    expect(le(`${prefix}alice:S3cre`).length).toBe(4096)
    const res = await post('utf16-cut', body, { 'content-type': 'application/json' })
    expect(res.status).toBe(413)
    const row = await stored('utf16-cut')
    expect(row.request).toMatchObject({ payload_charset: 'utf-16le' })
    expect(row.bytes.equals(le(`${prefix}***`))).toBe(true)
  })
})
