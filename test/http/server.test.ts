/**
 * HTTP against a real collector on port 0 (in-process), writing to a fresh database: every
 * status of DESIGN.md's table, its error envelope, and the raw body in atomic.bad_rows.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Collector } from '../../src/app.ts'
import { eventually, postJson, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'

let db: TestDatabase
let collector: Collector
let base: string

beforeAll(async () => {
  db = await freshDatabase('http')
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('http'), MAX_BODY_BYTES: '4096' })
  base = collector.url.href.replace(/\/$/, '')
})

afterAll(async () => {
  await collector.stop()
  await db.drop()
})

/** Bytes as sent, on a socket of its own: what fetch cannot send (no Host, a body cut short, header bytes that are not Latin-1 characters). Text is sent as UTF-8. Resolves with what came back, once the server closes or after `closeAfterMs`. */
function rawRequest(text: string | Uint8Array, closeAfterMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    let answer = ''
    const socket = net.connect(Number(collector.url.port), collector.url.hostname, () => socket.write(text))
    const timer = setTimeout(() => socket.destroy(), closeAfterMs)
    socket.on('data', (chunk) => { answer += chunk })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
  })
}

const badRowsWith = async (reason: string) =>
  db.sql`select reason, version, payload, detail from atomic.bad_rows where reason = ${reason} order by received_at`

const trigger = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')

describe('webhook answers', () => {
  test('a v1 webhook is 202 with counts once durable, and loads into both tables', async () => {
    const res = await postJson(`${base}/com.pagerduty/v1?aid=http-test`, trigger)
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ accepted: 1, bad: 0, pings: 0, version: 'v1' })
    await eventually(async () => (await db.sql`select count(*)::int as n from atomic.events where app_id = 'http-test'`)[0]?.n === 1, 20_000, 'the event to load')
    const [row] = await db.sql`select i.type, i."data.incident.id" as incident, e.event_vendor from atomic.events e join atomic.com_pagerduty_incident_1 i on i.root_id = e.event_id where e.app_id = 'http-test'`
    expect(row).toEqual({ type: 'trigger', incident: 'PRORDTY', event_vendor: 'com.pagerduty' })
  })

  test('the /v2 and /v3 paths are aliases, and a trailing slash is accepted', async () => {
    for (const path of ['/com.pagerduty/v2', '/com.pagerduty/v3', '/com.pagerduty/v1/']) {
      expect((await postJson(`${base}${path}`, trigger)).status).toBe(202)
    }
  })

  test('application/json; charset=utf-8 is JSON', async () => {
    expect((await postJson(`${base}/com.pagerduty/v1`, trigger, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(202)
  })

  test('a batch with an unknown message type is 202, the valid message loads and the other becomes a bad row', async () => {
    const body = JSON.stringify({ messages: [{ type: 'incident.unknown_thing', id: 'u-1', data: { incident: { id: 'PX' } } }, { type: 'incident.ack', id: 'u-2', data: { incident: {} } }] })
    const res = await postJson(`${base}/com.pagerduty/v1`, body)
    expect([res.status, await res.json()]).toEqual([202, { accepted: 0, bad: 2, pings: 0, version: 'v1' }])
    await eventually(async () => (await badRowsWith('UNKNOWN_EVENT_TYPE')).length === 2, 20_000, 'bad rows')
  })

  test('"bad" counts the failed messages of a batch past the bad-row cap, as accepted counts messages, not its one TOO_MANY_BAD_MESSAGES row', async () => {
    const bad = Array.from({ length: 150 }, () => ({})) // neither type nor event; small, for this server's 4 KiB MAX_BODY_BYTES
    const good = JSON.parse(trigger.replace('a52d3f80-d9a7-11e5-8db3-22000ad5aec9', 'past-cap-good')) as { messages: unknown[] }
    const res = await postJson(`${base}/com.pagerduty/v1`, JSON.stringify({ messages: [...good.messages, ...bad] }))
    expect([res.status, await res.json()]).toEqual([202, { accepted: 1, bad: 150, pings: 0, version: 'v1' }])
    await eventually(async () => (await badRowsWith('TOO_MANY_BAD_MESSAGES')).length === 1, 20_000, 'the one bad row')
  })

  test('a platform Snowplow does not know is 202 and loads as srv (a 4xx would get the subscription disabled)', async () => {
    const res = await postJson(`${base}/com.pagerduty/v1?aid=http-platform&p=server`, trigger.replace('a52d3f80-d9a7-11e5-8db3-22000ad5aec9', 'http-platform-1'))
    expect([res.status, await res.json()]).toEqual([202, { accepted: 1, bad: 0, pings: 0, version: 'v1' }])
    await eventually(async () => (await db.sql`select platform from atomic.events where app_id = 'http-platform'`)[0]?.platform === 'srv', 20_000, 'the event to load')
  })

  const malformed: [string, RequestInit, number, string, string][] = [
    ['not JSON', { body: '{"something:"some"}' }, 400, 'INVALID_JSON', 'invalid json: '],
    ['empty', { body: '' }, 400, 'EMPTY_BODY', 'empty body: no events to process'],
    ['not UTF-8', { body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }, 400, 'INVALID_UTF8', 'body is not valid UTF-8'],
    ['nested 65 deep', { body: `${'['.repeat(65)}${']'.repeat(65)}` }, 400, 'JSON_TOO_DEEP', 'invalid json: nested deeper than 64 levels'],
    ['not PagerDuty', { body: '{"somekey":"key"}' }, 400, 'NOT_PAGERDUTY', 'not a PagerDuty webhook'],
    ['form-encoded', { body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content type must be application/json, got "application/x-www-form-urlencoded"'],
    ['too large', { body: JSON.stringify({ messages: [{ pad: 'x'.repeat(5000) }] }) }, 413, 'PAYLOAD_TOO_LARGE', 'body is larger than MAX_BODY_BYTES (4096 bytes)'],
    ['compressed', { body: '{"messages":[{"br":1}]}', headers: { 'content-type': 'application/json', 'content-encoding': 'br' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'content encoding "br" is not supported: send the JSON uncompressed'],
    ['in Latin-1', { body: '{"messages":[{"latin":1}]}', headers: { 'content-type': 'application/json; charset="ISO-8859-1"' } }, 415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be UTF-8, got "application/json; charset=\\"ISO-8859-1\\""'],
  ]

  test.each(malformed)('%s -> %i %s with the error envelope, and the raw body in bad_rows', async (_name, init, status, code, message) => {
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, ...init })
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    const body = (await res.json()) as { error: { code: string; message: string; issues: unknown[] } }
    expect(body.error.code).toBe(code)
    expect(body.error.message.startsWith(message)).toBe(true)
    const sent = init.body instanceof Uint8Array ? init.body : Buffer.from(String(init.body))
    const cut = code === 'PAYLOAD_TOO_LARGE' ? sent.subarray(0, 4096) : sent
    // Bytes that are not UTF-8 text, and a compressed body, are kept as base64 (src/events/raw-body.ts).
    const notText = code === 'INVALID_UTF8' || (init.headers as Record<string, string> | undefined)?.['content-encoding'] !== undefined
    const stored = notText ? Buffer.from(cut).toString('base64') : new TextDecoder().decode(cut)
    // Several cases share a code: the row is the one holding this body.
    const ours = async () => (await badRowsWith(code)).find((r) => r.payload === stored)
    await eventually(async () => (await ours()) !== undefined, 20_000, `bad row ${code}`)
    const row = await ours()
    expect(JSON.parse(String(row?.detail))[0]).toEqual({ path: '', message: body.error.message })
  })

  test('a rejected body keeps no credentials from the URLs in it (a v2 message names the subscription URL)', async () => {
    const body = '{"messages":[{"event":"incident.trigger","webhook":{"endpoint_url":"https://alice:S3cretPw@collector.example.com\\/com.pagerduty\\/v1","other":"https:\\/\\/bob:pw2@x.example"}}] NOT JSON'
    const res = await postJson(`${base}/com.pagerduty/v1?aid=http-redact`, body)
    expect(res.status).toBe(400)
    await eventually(async () => (await db.sql`select 1 from atomic.bad_rows where payload like '%collector.example.com%'`).length === 1, 20_000, 'the bad row')
    const [row] = await db.sql`select payload from atomic.bad_rows where payload like '%collector.example.com%'`
    expect(row?.payload).toBe(body.replace('alice:S3cretPw@', '***@').replace('bob:pw2@', '***@'))
    expect(String(row?.payload)).not.toContain('S3cretPw')
  })

  test('a chunked body over the limit is refused without reading it all', async () => {
    const stream = new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1000))); c.close() } })
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream })
    expect(res.status).toBe(413)
  })

  test('a body more than 16 MiB over the limit is refused by the HTTP server itself, before it is read', async () => {
    const res = await postJson(`${base}/com.pagerduty/v1`, `{"messages":[{"far":"${'y'.repeat(18 * 1024 * 1024)}"}]}`)
    expect(res.status).toBe(413)
  })

  test('identity encoding and a quoted utf-8 charset are accepted', async () => {
    const res = await postJson(`${base}/com.pagerduty/v1`, trigger, { 'content-type': 'application/json; charset="UTF-8"', 'content-encoding': 'identity' })
    expect(res.status).toBe(202)
  })

  // Every US-ASCII text is the same bytes in UTF-8: a 415 for it is a delivery PagerDuty
  // drops (and three in a row disable the subscription) for a body the collector reads as is.
  test.each(['us-ascii', 'US-ASCII', '"ascii"'])('a %s charset is accepted: ASCII is UTF-8', async (charset) => {
    const res = await postJson(`${base}/com.pagerduty/v1`, trigger, { 'content-type': `application/json; charset=${charset}` })
    expect([res.status, await res.json()]).toEqual([202, { accepted: 1, bad: 0, pings: 0, version: 'v1' }])
  })

  // The 415 says which charset came; its bad row showed every non-ASCII byte as U+FFFD.
  test.each([
    ['ISO-8859-1', Buffer.from('{"messages":[{"subject":"caf\u00e9 \u00fcber","charset":"latin1"}]}', 'latin1'), '{"messages":[{"subject":"caf\u00e9 \u00fcber","charset":"latin1"}]}'],
    ['utf-16le', Buffer.from('{"messages":[{"subject":"caf\u00e9 \u65e5\u672c","charset":"utf-16le"}]}', 'utf16le'), '{"messages":[{"subject":"caf\u00e9 \u65e5\u672c","charset":"utf-16le"}]}'],
  ])('a body in %s is 415, and its bad row holds it decoded in that charset', async (charset, bytes, text) => {
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': `application/json; charset=${charset}` }, body: bytes })
    expect(res.status).toBe(415)
    const ours = async () => db.sql`select payload from atomic.bad_rows where reason = 'UNSUPPORTED_MEDIA_TYPE' and payload like ${`%"charset":"${charset === 'utf-16le' ? 'utf-16le' : 'latin1'}"%`}`
    await eventually(async () => (await ours()).length === 1, 20_000, 'the bad row')
    expect((await ours())[0]?.payload).toBe(text)
  })

  // Refused for its media type, not its charset: the charset it declared still says how to read it.
  test('a body refused 415 for its media type is kept in bad rows decoded in the charset it declared', async () => {
    const text = '{"messages":[{"subject":"caf\u00e9 \u00fcber","media":"text/plain latin1"}]}'
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'text/plain; charset=ISO-8859-1' }, body: Buffer.from(text, 'latin1') })
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
    const ours = async () => db.sql`select payload from atomic.bad_rows where reason = 'UNSUPPORTED_MEDIA_TYPE' and payload like ${'%"media":"text/plain latin1"%'}`
    await eventually(async () => (await ours()).length === 1, 20_000, 'the bad row')
    expect((await ours())[0]?.payload).toBe(text)
  })

  test('a body over MAX_BODY_BYTES in a charset it declared keeps its first MAX_BODY_BYTES decoded in it', async () => {
    const text = `{"messages":[{"subject":"caf\u00e9 \u00fcber","cut":"latin1 413","pad":"${'\u00e9'.repeat(5000)}"}]}`
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json; charset=ISO-8859-1' }, body: Buffer.from(text, 'latin1') })
    expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE'])
    const ours = async () => db.sql`select payload from atomic.bad_rows where reason = 'PAYLOAD_TOO_LARGE' and payload like ${'%"cut":"latin1 413"%'}`
    await eventually(async () => (await ours()).length === 1, 20_000, 'the bad row')
    // One byte a character in Latin-1: the first 4096 bytes are the first 4096 characters.
    expect((await ours())[0]?.payload).toBe(text.slice(0, 4096))
  })

  test('a client that hangs up before its body arrives is counted as 499, not a server error, and nothing is stored', async () => {
    const metric = async () => {
      const text = await (await fetch(`${base}/metrics`)).text()
      const line = text.split('\n').find((l) => l.startsWith('collector_http_requests_total{route="/com.pagerduty/v1",status="499"}'))
      return Number(line?.split(' ')[1] ?? 0)
    }
    const before = await metric()
    await rawRequest(`POST /com.pagerduty/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"messages":[`, 100)
    await eventually(async () => (await metric()) === before + 1, 10_000, 'the 499 to be counted')
    const text = await (await fetch(`${base}/metrics`)).text()
    // Exposed from the start at 0, and still 0: no unexpected failure.
    expect(text).toContain('collector_http_requests_total{route="other",status="503"} 0\n')
    await eventually(() => collector.spool.stats().backlogBytes === 0, 20_000, 'the spool to drain')
    expect(await db.sql`select 1 from atomic.bad_rows where payload = '{"messages":['`).toHaveLength(0)
  })

  // RFC 9110 section 5.5 leaves non-ASCII header bytes to the recipient; clients send them
  // as UTF-8, and Bun hands each byte over as one Latin-1 character: "café" loaded as "cafÃ©".
  test('non-ASCII User-Agent and X-Webhook-Id sent as UTF-8 load as the text sent; bytes that are not UTF-8 stay Latin-1', async () => {
    const send = async (id: string, head: Uint8Array) => {
      const body = trigger.replace('a52d3f80-d9a7-11e5-8db3-22000ad5aec9', id)
      const tail = Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      const start = Buffer.from('POST /com.pagerduty/v1?aid=http-header-text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n')
      return (await rawRequest(Buffer.concat([start, head, tail]))).split('\r\n')[0]
    }
    expect(await send('http-header-utf8', Buffer.from('User-Agent: caf\u00e9 \u65e5\u672c/1.0\r\nX-Webhook-Id: wh-\u00e9\u{1F600}\r\n'))).toBe('HTTP/1.1 202 Accepted')
    expect(await send('http-header-latin1', Buffer.from('User-Agent: caf\u00e9\r\nX-Webhook-Id: wh-\u00ff\r\n', 'latin1'))).toBe('HTTP/1.1 202 Accepted')
    const rows = async () => db.sql`select i.id, e.useragent, i.webhook_id from atomic.events e join atomic.com_pagerduty_incident_1 i on i.root_id = e.event_id where e.app_id = 'http-header-text' order by i.id`
    await eventually(async () => (await rows()).length === 2, 20_000, 'the events to load')
    expect((await rows()).map((r) => ({ ...r }))).toEqual([
      { id: 'http-header-latin1', useragent: 'caf\u00e9', webhook_id: 'wh-\u00ff' },
      { id: 'http-header-utf8', useragent: 'caf\u00e9 \u65e5\u672c/1.0', webhook_id: 'wh-\u00e9\u{1F600}' },
    ])
  })

  test('a missing content type is 415', async () => {
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', body: new Blob([trigger]) })
    expect([res.status, ((await res.json()) as { error: { message: string } }).error.message]).toEqual([415, 'content type must be application/json, got none'])
  })
})

describe('routes', () => {
  test.each([
    ['GET', '/health', 200],
    ['GET', '/ready', 200],
    ['GET', '/com.pagerduty/v1', 405],
    ['PUT', '/com.pagerduty/v1', 405],
    ['POST', '/health', 405],
    ['POST', '/com.mandrill/v1', 404],
    ['POST', '/com.pagerduty/v9', 404],
    ['GET', '/', 404],
    // Percent-encoded unreserved characters are the characters themselves (RFC 9110 section 4.2.3); an encoded / is not a /.
    ['POST', '/com.pagerduty/v%31', 202],
    ['POST', '/%63om%2Epagerduty/%76%31/', 202],
    ['GET', '/h%65alth', 200],
    ['POST', '/com.pagerduty%2Fv1', 404],
    ['POST', '/com.pagerduty/v1%2F', 404],
  ])('%s %s -> %i', async (method, path, status) => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'GET' ? {} : { body: trigger }) })
    expect(res.status).toBe(status)
    if (status === 405) expect(res.headers.get('allow')).toBe(path.startsWith('/com.') ? 'POST' : 'GET, HEAD')
    if (status >= 400) expect(((await res.json()) as { error: { code: string } }).error.code).toBe(status === 404 ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED')
  })

  test('a request with no usable Host header is routed by its path (HTTP/1.0 health checks send none)', async () => {
    // HTTP/1.1 requires a Host (Bun answers 400 without one); HTTP/1.0 does not.
    for (const [version, host] of [['1.0', ''], ['1.1', 'Host:\r\n'], ['1.1', 'Host: a:b:c\r\n'], ['1.1', 'Host: x y\r\n']]) {
      const answer = await rawRequest(`GET /health HTTP/${version}\r\n${host}Connection: close\r\n\r\n`)
      expect([host, answer.split('\r\n')[0]]).toEqual([host, 'HTTP/1.1 200 OK'])
    }
    const body = trigger.replace('a52d3f80-d9a7-11e5-8db3-22000ad5aec9', 'http-no-host-1')
    const answer = await rawRequest(`POST /com.pagerduty/v1?aid=http-no-host HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 202 Accepted')
    await eventually(async () => (await db.sql`select count(*)::int as n from atomic.events where app_id = 'http-no-host'`)[0]?.n === 1, 20_000, 'the event to load')
  })

  test('/ready reports spool, database and writer state', async () => {
    const body = (await (await fetch(`${base}/ready`)).json()) as Record<string, Record<string, unknown>>
    expect(body.status as unknown).toBe('ready')
    expect(body.reason as unknown).toBeNull()
    expect(body.spool?.max_bytes).toBeGreaterThan(0)
    expect(body.spool?.writable).toBe(true)
    expect(Object.keys(body.database ?? {}).sort()).toEqual(['dialect', 'last_commit_at', 'last_error', 'last_error_at', 'state', 'target'])
  })
})
