/**
 * Every PagerDuty webhook version through the real HTTP endpoint into a real database: each
 * fixture into its table and (incident events) into the view, retries loading once, v3
 * signatures (the go-pagerduty vector, rotation, mismatch, missing header), basic auth, and
 * unknown types answered 2xx with a bad row.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Collector } from '../../src/app.ts'
import { eventually, postJson, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { fixtureJson } from '../helpers/fixtures.ts'
import { fixtureRequests, signatureVector } from '../helpers/pagerduty-requests.ts'
import { migrate } from '../../src/db/migrate.ts'

const VERSIONS = ['v1', 'v2', 'v3'] as const
const vector = signatureVector()
const ROTATED_OLD = 'the-secret-before-rotation'
const BASIC = `Basic ${Buffer.from('pagerduty:correct horse').toString('base64')}`
const sign = (secret: string, body: string) => `v1=${createHmac('sha256', secret).update(body).digest('hex')}`

let db: TestDatabase
let open: Collector
let guarded: Collector
const guardedDataDir = tempDir('versions-guarded')

const count = async (from: string, where = 'true', params: unknown[] = []): Promise<number> =>
  Number((await db.sql.unsafe(`select count(*)::int as n from atomic.${from} where ${where}`, params as never[]))[0]!.n)

/** A v3 event with its own id, from the rudder trigger fixture. */
function v3Body(id: string): string {
  const body = fixtureJson('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json') as { event: Record<string, unknown> }
  return JSON.stringify({ event: { ...body.event, id } })
}

/**
 * Waits until everything `collector` made durable is committed to the database (the spool's
 * checkpoint reaches its end), then checks that the event with PagerDuty id `id` loaded. Not
 * polling the database meanwhile: PGlite serves one session, and interleaved clients can trip
 * over each other's unnamed portals.
 */
async function v3Loaded(id: string, collector: Collector): Promise<void> {
  await eventually(() => collector.spool.stats().backlogBytes === 0, 20_000, 'spool drained')
  expect(await count('com_pagerduty_webhook_v3_event_1', 'id = $1', [id])).toBe(1)
}

beforeAll(async () => {
  db = await freshDatabase('versions')
  await migrate(db.sql, 'postgres', 'atomic') // the collectors migrate lazily; the counts below need the tables now
  open = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('versions-open') })
  guarded = await startInProcess({
    DATABASE_URL: db.url,
    DATA_DIR: guardedDataDir,
    PAGERDUTY_WEBHOOK_SECRETS: `${ROTATED_OLD}, ${vector.secret}`,
    BASIC_AUTH_USERS: 'pagerduty:correct horse',
  })
}, 60_000)

afterAll(async () => {
  await open?.stop()
  await guarded?.stop()
  await db?.drop()
}, 30_000)

describe('signatures and basic auth', () => {
  const post = (body: string, headers: Record<string, string>) => postJson(new URL('/com.pagerduty/v3', guarded.url).href, body, headers)

  test('the go-pagerduty test vector verifies and loads', async () => {
    const response = await post(vector.body, { authorization: BASIC, 'x-pagerduty-signature': vector.valid, 'x-webhook-id': 'vector-delivery' })
    expect([response.status, await response.json()]).toEqual([202, { accepted: 1, bad: 0, pings: 0, version: 'v3' }])
    await v3Loaded('01BWDWL3NYY7LUFPZCC28QUCMK', guarded)
    const rows = await db.sql`select webhook_id from atomic.com_pagerduty_webhook_v3_event_1 where id = '01BWDWL3NYY7LUFPZCC28QUCMK'`
    expect(rows.map((r) => r.webhook_id)).toEqual(['vector-delivery'])
  })

  test.each([
    ['its mismatch example', { 'x-pagerduty-signature': vector.mismatch }, 'X-PagerDuty-Signature does not match the body under any configured secret'],
    ['a missing header', {}, 'X-PagerDuty-Signature with a v1= entry is required'],
    ['a header with no v1= entry', { 'x-pagerduty-signature': 'v0=abc' }, 'X-PagerDuty-Signature has no well-formed v1= entry: expected v1=<64 hex digits>, the HMAC-SHA256 of the raw body'],
    ['a v1= entry that is not 64 hex digits', { 'x-pagerduty-signature': `v1=${Buffer.alloc(32).toString('base64')}` }, 'X-PagerDuty-Signature has no well-formed v1= entry: expected v1=<64 hex digits>, the HMAC-SHA256 of the raw body'],
  ])('a v3 request with %s gets 401 and stores nothing', async (label, headers, message) => {
    const id = `UNSIGNED-${label.replace(/[^A-Za-z0-9]+/g, '-')}`
    const response = await post(v3Body(id), { authorization: BASIC, ...headers })
    expect([response.status, await response.json()]).toEqual([401, { error: { code: 'INVALID_SIGNATURE', message, issues: [] } }])
    // A signed event posted afterwards is drained after anything the 401 could have stored.
    const barrier = `BARRIER-${id}`
    expect((await post(v3Body(barrier), { authorization: BASIC, 'x-pagerduty-signature': sign(vector.secret, v3Body(barrier)) })).status).toBe(202)
    await v3Loaded(barrier, guarded)
    expect([await count('com_pagerduty_webhook_v3_event_1', 'id = $1', [id]), await count('bad_rows', 'payload like $1', [`%${id}%`])]).toEqual([0, 0])
  })

  test('either of two rotated secrets is accepted, as is any v1= entry of several (spaces trimmed)', async () => {
    const old = v3Body('SIGNED-WITH-OLD-SECRET')
    const current = v3Body('SIGNED-WITH-CURRENT-SECRET')
    const both = v3Body('SIGNED-TWICE')
    const statuses = [
      (await post(old, { authorization: BASIC, 'x-pagerduty-signature': sign(ROTATED_OLD, old) })).status,
      (await post(current, { authorization: BASIC, 'x-pagerduty-signature': sign(vector.secret, current) })).status,
      (await post(both, { authorization: BASIC, 'x-pagerduty-signature': `${sign('retired', both)} , ${sign(vector.secret, both)}` })).status,
    ]
    expect(statuses).toEqual([202, 202, 202])
    for (const id of ['SIGNED-WITH-OLD-SECRET', 'SIGNED-WITH-CURRENT-SECRET', 'SIGNED-TWICE']) await v3Loaded(id, guarded)
  })

  test('basic auth: 401 without credentials or with a wrong password, 202 with them, for v1 and v2 too', async () => {
    const v1 = fixtureRequests('v1')[1]!.body
    const v2 = fixtureRequests('v2')[0]!.body
    const wrong = `Basic ${Buffer.from('pagerduty:wrong').toString('base64')}`
    const statuses = []
    for (const [path, body] of [['/com.pagerduty/v1', v1], ['/com.pagerduty/v2', v2]] as const) {
      const url = new URL(path, guarded.url).href
      statuses.push((await postJson(url, body)).status, (await postJson(url, body, { authorization: wrong })).status, (await postJson(url, body, { authorization: BASIC })).status)
    }
    expect(statuses).toEqual([401, 401, 202, 401, 401, 202])
    // The scheme in any case; the credentials exactly; another scheme never.
    const url = new URL('/com.pagerduty/v1', guarded.url).href
    const token = BASIC.slice('Basic '.length)
    const variants = [`basic ${token}`, `BASIC  ${token}`, `Basic ${token.toLowerCase()}`, `Bearer ${token}`, token]
    expect(await Promise.all(variants.map(async (authorization) => (await postJson(url, v1, { authorization })).status))).toEqual([202, 202, 401, 401, 401])
    const denied = await postJson(new URL('/com.pagerduty/v1', guarded.url).href, v1)
    expect([denied.headers.get('www-authenticate'), await denied.json()]).toEqual(['Basic realm="pagerduty-collector", charset="UTF-8"', { error: { code: 'UNAUTHORIZED', message: 'basic authentication required', issues: [] } }])
  })

  // The 401 is what a PagerDuty user reads in the subscription's delivery log: a wrong
  // password said "basic authentication required", as if the URL had carried none.
  test.each([
    ['no Authorization header', undefined, 'basic authentication required'],
    ['another scheme', 'Bearer abc', 'basic authentication required'],
    ['the Basic scheme without credentials', 'Basic ', 'basic authentication required'],
    ['a wrong password', `Basic ${Buffer.from('pagerduty:wrong').toString('base64')}`, 'basic authentication failed: the user and password given are not a configured pair'],
    ['credentials that are not base64', 'Basic !!!!', 'basic authentication failed: the user and password given are not a configured pair'],
  ])('basic auth with %s: 401 saying so', async (_, authorization, message) => {
    const res = await postJson(new URL('/com.pagerduty/v1', guarded.url).href, fixtureRequests('v1')[1]!.body, authorization === undefined ? {} : { authorization })
    expect([res.status, res.headers.get('www-authenticate'), await res.json()]).toEqual([401, 'Basic realm="pagerduty-collector", charset="UTF-8"', { error: { code: 'UNAUTHORIZED', message, issues: [] } }])
  })
})

describe('PAGERDUTY_SIGNED_ONLY', () => {
  let signedOnly: Collector
  beforeAll(async () => {
    signedOnly = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('versions-signed-only'), PAGERDUTY_WEBHOOK_SECRETS: vector.secret, PAGERDUTY_SIGNED_ONLY: 'true' })
  })
  afterAll(async () => { await signedOnly?.stop() })

  test('refuses what is unsigned whatever its shape (a forged v1 or v2 body, junk), stores none of it, and loads what is signed', async () => {
    const url = new URL('/com.pagerduty/v1', signedOnly.url).href
    const forgedV1 = fixtureRequests('v1')[1]!.body.replaceAll('PRORDTY', 'FORGED1').replaceAll('286890b0-d9a9-11e5-bbf4-22000ae21df7', 'FORGED-MESSAGE')
    const forgedV2 = fixtureRequests('v2')[0]!.body
    const junk = '{"not json FORGED-JUNK'
    const unsigned = await Promise.all([forgedV1, forgedV2, junk].map(async (body) => {
      const response = await postJson(url, body)
      return [response.status, ((await response.json()) as { error: { code: string } }).error.code]
    }))
    expect(unsigned).toEqual([[401, 'INVALID_SIGNATURE'], [401, 'INVALID_SIGNATURE'], [401, 'INVALID_SIGNATURE']])
    // Signed with the secret, any shape loads: v3, and a v1 body too.
    const v3 = v3Body('SIGNED-ONLY-V3')
    const v1 = fixtureRequests('v1')[0]!.body
    expect((await postJson(url, v3, { 'x-pagerduty-signature': sign(vector.secret, v3) })).status).toBe(202)
    expect((await postJson(url, v1, { 'x-pagerduty-signature': sign(vector.secret, v1) })).status).toBe(202)
    await v3Loaded('SIGNED-ONLY-V3', signedOnly)
    await eventually(() => signedOnly.spool.stats().backlogBytes === 0, 20_000, 'the signed v1 body to load')
    expect([await count('bad_rows', 'payload like $1', ['%FORGED%']), await count('com_pagerduty_incident_1', '"data.incident.id" = $1', ['FORGED1'])]).toEqual([0, 0])
  })
})

describe('every fixture of every version through the endpoint', () => {
  const responses: Record<string, { status: number; body: unknown }> = {}

  beforeAll(async () => {
    for (const version of VERSIONS) {
      for (const request of fixtureRequests(version)) {
        // Each version's directory goes to its own alias; detection is by shape, not path.
        const response = await postJson(new URL(`/com.pagerduty/${version}`, open.url).href, request.body, request.headers)
        responses[`${version}/${request.name}`] = { status: response.status, body: await response.json() }
      }
    }
    const barrier = 'BARRIER-after-fixtures'
    expect((await postJson(new URL('/com.pagerduty/v3', open.url).href, v3Body(barrier))).status).toBe(202)
    await v3Loaded(barrier, open)
  }, 60_000)

  test('each fixture is answered 202: events accepted, pings counted, nothing bad', () => {
    const summary = Object.entries(responses).map(([name, r]) => [name, r.status, r.body])
    for (const [name, status, body] of summary) {
      const b = body as { accepted: number; bad: number; pings: number }
      const ping = String(name).includes('pagey.ping')
      const batch = String(name).includes('batch_')
      expect([name, status, b.accepted, b.bad, b.pings]).toEqual([name, 202, ping ? 0 : batch ? 2 : 1, 0, ping ? 1 : 0])
    }
    expect(summary.length).toBe(10 + 6 + 18 + 30)
  })

  test('each event lands in its table once (the repeated giranm v2 delivery included)', async () => {
    // v1: 10 files, one a batch of 2; v2: 6 files, two of them the same message; v3: 18
    // real files less 2 pings, plus 30 from the docs' data examples (the signature tests'
    // own events are left out; the vector is one of the 16).
    expect([
      await count('com_pagerduty_incident_1'),
      await count('com_pagerduty_webhook_v2_message_1'),
      await count('com_pagerduty_webhook_v3_event_1', "id not like 'BARRIER-%' and id not like 'SIGNED-%'"),
      await count('events', "v_tracker = 'com.pagerduty-v2'"),
    ]).toEqual([11, 5, 16 + 30, 5])
  })

  test('a repeated delivery of every fixture loads nothing more', async () => {
    const before = await count('events')
    for (const version of VERSIONS) {
      for (const request of fixtureRequests(version)) {
        expect((await postJson(new URL('/com.pagerduty/v1', open.url).href, request.body, request.headers)).status).toBe(202)
      }
    }
    const barrier = 'BARRIER-after-repeats'
    expect((await postJson(new URL('/com.pagerduty/v1', open.url).href, v3Body(barrier))).status).toBe(202)
    await v3Loaded(barrier, open)
    expect(await count('events')).toBe(before + 1)
  })

  test('the view has one row per incident event of every version, in v3 vocabulary', async () => {
    const rows = await db.sql`
      select webhook_version, event_type, count(*)::int as n, count(service_name)::int as with_service
        from atomic.pagerduty_incident_events
       where incident_id is not null and event_id in (select root_id from atomic.com_pagerduty_incident_1
                                                      union all select root_id from atomic.com_pagerduty_webhook_v2_message_1
                                                      union all select root_id from atomic.com_pagerduty_webhook_v3_event_1 where id not like 'BARRIER-%' and id not like 'SIGNED-%' and id not like 'docs-example-%')
       group by 1, 2 order by 1, 2`
    expect(rows.map((r) => [r.webhook_version, r.event_type, r.n, r.with_service])).toEqual([
      ['v1', 'incident.acknowledged', 2, 2],
      ['v1', 'incident.delegated', 1, 1],
      ['v1', 'incident.escalated', 1, 1],
      ['v1', 'incident.reassigned', 2, 2],
      ['v1', 'incident.resolved', 2, 2],
      ['v1', 'incident.triggered', 2, 2],
      ['v1', 'incident.unacknowledged', 1, 1],
      ['v2', 'incident.acknowledged', 1, 1],
      ['v2', 'incident.reassigned', 1, 1],
      ['v2', 'incident.resolved', 1, 1],
      ['v2', 'incident.triggered', 2, 2],
      ['v3', 'incident.annotated', 1, 1],
      ['v3', 'incident.conference_bridge.updated', 1, 1],
      // The synthetic envelope's incident PBAZLIU is named, with its service, by the docs' examples.
      ['v3', 'incident.custom_field_values.updated', 1, 1],
      ['v3', 'incident.escalated', 1, 1],
      ['v3', 'incident.priority_updated', 3, 3],
      ['v3', 'incident.reopened', 1, 1],
      ['v3', 'incident.resolved', 1, 1],
      ['v3', 'incident.responder.added', 2, 2],
      ['v3', 'incident.status_update_published', 1, 1],
      ['v3', 'incident.triggered', 2, 2],
      ['v3', 'incident.workflow.started', 1, 1],
    ])
  })

  test('the view says what kind of agent each real payload names: v1 a user or none, v2 and v3 the agent reference\'s type', async () => {
    const rows = await db.sql`
      select webhook_version, agent_type, count(*)::int as n, count(agent_id)::int as with_id, count(resolve_reason)::int as with_reason
        from atomic.pagerduty_incident_events
       where incident_id is not null and event_id in (select root_id from atomic.com_pagerduty_incident_1
                                                      union all select root_id from atomic.com_pagerduty_webhook_v2_message_1
                                                      union all select root_id from atomic.com_pagerduty_webhook_v3_event_1 where id not like 'BARRIER-%' and id not like 'SIGNED-%' and id not like 'docs-example-%')
       group by 1, 2 order by 1, 2`
    expect(rows.map((r) => [r.webhook_version, r.agent_type, r.n, r.with_id, r.with_reason])).toEqual([
      // last_status_change_by: a user on the acknowledgements, reassignments and the docs'
      // resolution; null on the triggers, the integration's resolution (zulip mp_fail) and the rest.
      ['v1', 'user', 5, 5, 0],
      ['v1', null, 6, 0, 0],
      ['v2', 'user', 5, 5, 0],
      ['v3', 'user', 14, 14, 0],
      // The synthetic custom-field envelope, whose agent is null.
      ['v3', null, 1, 0, 0],
    ])
  })

  test('a v3 note takes its service from the incident\'s other events', async () => {
    const rows = await db.sql`select service_id, service_name, incident_title, agent_id from atomic.pagerduty_incident_events where event_type = 'incident.annotated' and incident_id = 'Q3B15VLMF3ASBD'`
    expect(rows.map((r) => ({ ...r }))).toEqual([{ service_id: 'P844A2S', service_name: 'APIs', incident_title: 'Critical: Checkout API High Latency', agent_id: 'PXRUEF2' }])
  })

  test('service events stay out of the view', async () => {
    expect(await count('pagerduty_incident_events', "event_type like 'service.%'")).toBe(0)
    expect(await count('com_pagerduty_webhook_v3_event_1', "event_type like 'service.%'")).toBe(5)
  })
})

describe('unknown event types', () => {
  test.each([
    ['v2', () => {
      const body = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
      return JSON.stringify({ messages: [{ ...body.messages[0], id: 'unknown-v2-type', event: 'incident.teleport' }] })
    }, 'incident.teleport'],
    ['v3', () => {
      const body = JSON.parse(v3Body('UNKNOWN-V3-TYPE')) as { event: Record<string, unknown> }
      return JSON.stringify({ event: { ...body.event, event_type: 'incident.teleported' } })
    }, 'incident.teleported'],
  ])('an unknown %s type is answered 202 and kept as a bad row', async (version, build, type) => {
    const response = await postJson(new URL('/com.pagerduty/v1', open.url).href, build())
    expect([response.status, await response.json()]).toEqual([202, { accepted: 0, bad: 1, pings: 0, version }])
    await eventually(() => open.spool.stats().backlogBytes === 0, 20_000, 'spool drained')
    const rows = await db.sql`select reason, vendor, version from atomic.bad_rows where payload like ${`%${type}%`}`
    expect(rows.map((r) => ({ ...r }))).toEqual([{ reason: 'UNKNOWN_EVENT_TYPE', vendor: 'com.pagerduty', version }])
  })

  test('a PagerDuty retry of a delivery (same X-Webhook-Id, same body) stores its bad row once', async () => {
    const body = JSON.parse(v3Body('RETRIED-UNKNOWN')) as { event: Record<string, unknown> }
    const sent = JSON.stringify({ event: { ...body.event, event_type: 'incident.retried_unknown' } })
    for (let i = 0; i < 3; i++) {
      const response = await postJson(new URL('/com.pagerduty/v3', open.url).href, sent, { 'x-webhook-id': 'retried-delivery-1' })
      expect(response.status).toBe(202)
    }
    await eventually(() => open.spool.stats().backlogBytes === 0, 20_000, 'spool drained')
    expect(await count('bad_rows', 'payload like $1', ['%incident.retried_unknown%'])).toBe(1)
  })
})

// Last: it adds a v2 event, which the counts above do not expect.
describe('credentials in the subscription URL', () => {
  // A URL's userinfo runs to the last `@` of its authority (RFC 3986 section 3.2; Go's and the
  // WHATWG URL parsers take `p@ss` as the password of `https://u:p@ss@host/`): cut at the
  // first `@`, the password's tail was stored as `https://***@ss@host/`.
  test.each([
    ['CREDENTIALS-IN-URL', 's3cret-in-the-url'],
    ['CREDENTIALS-WITH-AT', 's3cret@in-the@p4ssword'],
  ])('that a v2 message echoes in webhook.endpoint_url never rest on disk: the spool holds the body with them replaced, as raw_message does (%s)', async (id, secret) => {
    const body = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: { id: string; webhook: { endpoint_url: string } }[] }
    const message = body.messages[0] as (typeof body.messages)[number]
    const posted = { ...body, messages: [{ ...message, id, webhook: { ...message.webhook, endpoint_url: `https://pagerduty:${secret}@collector.example.com/com.pagerduty/v1?aid=acme` } }] }
    const response = await postJson(new URL('/com.pagerduty/v2', guarded.url).href, JSON.stringify(posted), { authorization: BASIC })
    expect(response.status).toBe(202)
    await eventually(() => guarded.spool.stats().backlogBytes === 0, 20_000, 'spool drained')
    const rows = await db.sql`select raw_message->'webhook'->>'endpoint_url' as url from atomic.com_pagerduty_webhook_v2_message_1 where raw_message->>'id' = ${id}`
    expect(rows.map((r) => r.url)).toEqual(['https://***@collector.example.com/com.pagerduty/v1?aid=acme'])
    const spoolDir = path.join(guardedDataDir, 'spool')
    const files = fs.readdirSync(spoolDir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(spoolDir, f)).isFile())
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) for (const part of secret.split('@')) expect(fs.readFileSync(path.join(spoolDir, f)).includes(part)).toBe(false)
  })
})
