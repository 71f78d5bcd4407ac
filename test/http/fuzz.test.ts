/**
 * A bounded, deterministic run of the webhook fuzzer (test/helpers/fuzz.ts) against a real
 * collector and database: a few hundred requests mutated from the fixtures (JSON values of
 * the wrong type, huge, deep, odd unicode and numbers; broken bytes; odd content types,
 * queries, methods, paths and v3 signatures) and raw TCP requests whose framing lies. For
 * every answer, once the writer has caught up: its status is the one the contract gives,
 * its body has the contract's shape, a 2xx's counts are the rows loaded and the bad rows
 * kept, a stored 4xx's raw body is in atomic.bad_rows, and /ready stays 200.
 *
 * FUZZ_SEED and FUZZ_CASES change the run (the seed is printed); a longer run is the same
 * code with more cases.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Collector } from '../../src/app.ts'
import { eventually, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { checkAnswer, checkRaw, checkStored, counts, makeCase, makeRawCase, mulberry32, send, sendRaw, type FuzzCase, type Outcome, type RawCase, type Violation } from '../helpers/fuzz.ts'
import { migrate } from '../../src/db/migrate.ts'

const SEED = Number(process.env.FUZZ_SEED ?? 20261130)
const CASES = Number(process.env.FUZZ_CASES ?? 300)
const GROUP = 8
const SECRET = 'fuzz-secret'
const MAX_BODY_BYTES = 64 * 1024
const opts = { secret: SECRET, maxBodyBytes: MAX_BODY_BYTES }

let db: TestDatabase
let collector: Collector
let base: string

beforeAll(async () => {
  db = await freshDatabase('fuzz')
  await migrate(db.sql, 'postgres', 'atomic')
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('fuzz'), PAGERDUTY_WEBHOOK_SECRETS: SECRET, MAX_BODY_BYTES: String(MAX_BODY_BYTES) })
  base = collector.url.href.replace(/\/$/, '')
}, 60_000)

afterAll(async () => {
  await collector.stop()
  await db.drop()
})

const caughtUp = () => eventually(() => collector.spool.stats().backlogBytes === 0, 30_000, 'the writer to catch up')

const describeCase = (c: FuzzCase | RawCase): string =>
  'kind' in c ? `${c.kind} ${c.method} ${c.path.slice(0, 80)} [${c.notes.join('; ').slice(0, 240)}]` : `raw: ${c.what}`

describe(`webhook fuzzing (seed ${SEED}, ${CASES} cases)`, () => {
  test('every answer keeps the contract, and the database shows what it promised', async () => {
    console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} FUZZ_CASES=${CASES} to repeat)`)
    const rng = mulberry32(SEED)
    const port = Number(collector.url.port)
    const violations: string[] = []
    const statuses: Record<string, number> = {}
    let before = await counts(db.sql)
    for (let n = 0; n < CASES;) {
      const group: (FuzzCase | RawCase)[] = []
      for (let i = 0; i < GROUP && n < CASES; i++, n++) group.push(rng() < 0.06 ? makeRawCase(rng, n, opts) : makeCase(rng, n, opts))
      const answers = await Promise.all(group.map((c) => ('kind' in c ? send(base, c) : sendRaw(port, collector.url.hostname, c))))
      await caughtUp()
      let accepted = 0
      for (let i = 0; i < group.length; i++) {
        const c = group[i] as FuzzCase | RawCase
        let found: Violation[]
        if ('kind' in c) {
          const o = answers[i] as Outcome
          statuses[o.status] = (statuses[o.status] ?? 0) + 1
          found = [...checkAnswer(c, o), ...await checkStored(db.sql, c, o)]
          if (o.status === 202 && !c.expected.mayDedupe) accepted += (o.body as { accepted: number }).accepted
        } else found = await checkRaw(db.sql, c, answers[i] as string)
        for (const f of found) violations.push(`#${f.n} ${f.what} :: ${describeCase(c)} :: ${f.detail.slice(0, 200)}`)
      }
      const after = await counts(db.sql)
      if (after.events !== after.v1 + after.v2 + after.v3) violations.push(`after #${n}: ${after.events} events, ${after.v1 + after.v2 + after.v3} shredded rows`)
      if (after.events - before.events < accepted) violations.push(`after #${n}: ${after.events - before.events} events loaded, ${accepted} accepted`)
      before = after
      const ready = await fetch(`${base}/ready`)
      if (ready.status !== 200) violations.push(`after #${n}: /ready ${ready.status} ${await ready.text()}`)
    }
    console.log('fuzz statuses', JSON.stringify(statuses))
    expect(violations).toEqual([])
    // The run covered every kind of answer.
    for (const s of ['202', '400', '401', '404', '405', '413', '415']) expect(statuses[s] ?? 0).toBeGreaterThan(0)
  }, Math.max(120_000, CASES * 500))
})

/** Violations the fuzzer found, each fixed and kept here as its test. */
describe('violations found by fuzzing', () => {
  const v3 = (id: string) => JSON.stringify({ event: { id, event_type: 'incident.triggered', resource_type: 'incident', occurred_at: '2020-10-02T18:45:22.169Z', agent: null, client: null, data: { type: 'incident', id: 'PFZ', title: 'fuzz' } } })
  const signed = async (body: string) => {
    const { createHmac } = await import('node:crypto')
    return fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-pagerduty-signature': `v1=${createHmac('sha256', SECRET).update(body).digest('hex')}` }, body })
  }

  // DESIGN.md "HTTP": v3 is told apart by its top-level `event`, v1/v2 by `messages[].type` /
  // `messages[].event`. A signed v3 delivery that also has a `messages` key holding no
  // message is refused 400 NOT_PAGERDUTY (src/adapters/pagerduty/adapter.ts, toEvents: an
  // array `messages` wins over `event`), and PagerDuty drops a 4xx.
  test('a v3 delivery with an extra empty `messages` array is 202, not 400', async () => {
    const body = v3('FUZZ-V3-EXTRA-MESSAGES').replace(/^\{/, '{"messages":[],')
    const res = await signed(body)
    expect(res.status).toBe(202)
  })

  // The reverse: a v1 body with an extra top-level `event` object is taken as v1 by the
  // adapter, but the signature check (src/http/server.ts, isV3Body) takes it as v3 and
  // answers 401 when secrets are set: nothing stored, and PagerDuty drops the 4xx.
  test('a v1 body with an extra top-level `event` object needs no v3 signature', async () => {
    const body = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json').replace(/^\s*\{/, '{"event":{"note":"x"},')
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(res.status).toBe(202)
  })

  // README: a rejected body goes to bad rows "credentials in URLs replaced by ***". A 413
  // keeps the first MAX_BODY_BYTES, cut before the redaction runs (src/http/server.ts,
  // PAYLOAD_TOO_LARGE -> reject -> payloadText): a URL cut inside its password has no `@`
  // left, so the password's first part is stored as it was sent.
  test('a 413 cut inside a URL\'s password stores no part of it', async () => {
    const user = `cut${Date.now()}`
    const head = '{"messages":[{"event":"incident.trigger","webhook":{"endpoint_url":"'
    const url = `https://${user}:TopSecretPassword@collector.example.com/com.pagerduty/v1`
    const pad = MAX_BODY_BYTES - head.length - `https://${user}:TopSecret`.length - '{"pad":"",'.length + 1
    const body = `{"pad":"${'x'.repeat(pad)}",${head.slice(1)}${url}"}}]}`
    const res = await fetch(`${base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    expect(res.status).toBe(413)
    await caughtUp()
    const [row] = await db.sql`select count(*)::int as n from atomic.bad_rows where strpos(payload, ${`${user}:TopSecret`}) > 0`
    expect(row?.n).toBe(0)
  })

  // README: "not JSON ... 400, raw body to atomic.bad_rows". When the spool could not take the
  // bad row (full, or the disk "not keeping up" under a burst of large bodies), the request
  // still got its 4xx, which PagerDuty drops, and its body was stored nowhere. It now gets
  // the 503 a webhook would, and its 4xx (with the bad row) once there is room.
  test('a malformed request the spool cannot keep is 503 (the sender retries), and 400 with its bad row once there is room', async () => {
    const dataDir = tempDir('fuzz-full')
    const marker = `~spool-full-${Date.now()}~`
    const down = await startInProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', DATA_DIR: dataDir, SPOOL_MAX_BYTES: '294912', MAX_BODY_BYTES: '32768', SPOOL_SEGMENT_BYTES: '16384', SHUTDOWN_DRAIN_MS: '0' })
    let status = 0
    try {
      const url = `${down.url.href.replace(/\/$/, '')}/com.pagerduty/v1`
      const trigger = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')
      for (let i = 0; i < 1000; i++) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: trigger.replace('a52d3f80-d9a7-11e5-8db3-22000ad5aec9', `${marker}${i}`) })
        await res.arrayBuffer()
        if (res.status === 503) break
      }
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"not json ${marker}${'x'.repeat(30_000)}` })
      status = res.status
      expect(res.headers.get('retry-after')).toBe('30')
    } finally {
      await down.stop()
    }
    expect(status).toBe(503)
    const up = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: dataDir })
    try {
      await eventually(() => up.spool.stats().backlogBytes === 0, 30_000, 'the backlog to load')
      expect((await db.sql`select count(*)::int as n from atomic.bad_rows where strpos(payload, ${`{"not json ${marker}`}) = 1`)[0]?.n).toBe(0)
      const again = await fetch(`${up.url.href.replace(/\/$/, '')}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"not json ${marker}${'x'.repeat(30_000)}` })
      expect(again.status).toBe(400)
      await eventually(() => up.spool.stats().backlogBytes === 0, 30_000, 'the bad row to load')
      const [row] = await db.sql`select count(*)::int as n from atomic.bad_rows where strpos(payload, ${`{"not json ${marker}`}) = 1`
      expect(row?.n).toBe(1)
    } finally {
      await up.stop()
    }
  }, 60_000)

  // A control character takes 6 bytes once the bad row's JSON escapes it: with SPOOL_MAX_BYTES
  // under ~6x MAX_BODY_BYTES, the largest malformed body never fit, even in an empty spool,
  // and got 503 for good. The smallest budget the configuration allows (8x + 32 KiB) takes
  // it, with the longest query values and headers its request column keeps beside it.
  test('the largest malformed bodies fit in an empty spool of the smallest size allowed', async () => {
    const marker = `smallest-${Date.now()}`
    const small = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('fuzz-smallest'), MAX_BODY_BYTES: '4096', SPOOL_MAX_BYTES: '65536' })
    const statuses: number[] = []
    try {
      // Within the HTTP server's 16 KiB of request line and headers (past it: 431, nothing stored).
      const wide = encodeURIComponent('\u{1F600}'.repeat(300)) // 12 bytes a character once escaped
      const url = `${small.url.href.replace(/\/$/, '')}/com.pagerduty/v1?aid=${wide}&nuid=${wide}`
      const controls = (n: number) => `${marker}${'\u0001'.repeat(n - marker.length)}`
      // The two bodies keep the same first 4096 bytes: their own webhook ids keep both rows.
      for (const [i, body] of [controls(4096), controls(10_000)].entries()) {
        const headers = { 'content-type': 'application/json', 'user-agent': '\u00ff'.repeat(3000), 'x-webhook-id': `${i}${'\u00ff'.repeat(1000)}` }
        const res = await fetch(url, { method: 'POST', headers, body })
        await res.arrayBuffer()
        statuses.push(res.status)
        // Loaded, so that the next body meets an empty spool too.
        await eventually(() => small.spool.stats().backlogBytes === 0, 30_000, 'the bad row to load')
      }
    } finally {
      await small.stop()
    }
    expect(statuses).toEqual([400, 413])
    const rows = await db.sql<{ reason: string; length: number }[]>`select reason, length(payload) as length from atomic.bad_rows where strpos(payload, ${marker}) = 1 order by reason`
    expect([...rows]).toEqual([{ reason: 'INVALID_JSON', length: 4096 }, { reason: 'PAYLOAD_TOO_LARGE', length: 4096 }])
  }, 60_000)

  // A 415's message quoted the Content-Type whole: 16 KiB of backslashes took 8 bytes each in
  // the spool record, past the floor's room, and the request got 503 for good.
  test('a 415 for a 15,000-character Content-Type fits the smallest spool allowed, and /ready stays 200', async () => {
    const small = await startInProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere', DATA_DIR: tempDir('fuzz-ctype'), MAX_BODY_BYTES: '1024', SPOOL_MAX_BYTES: String(8 * 1024 + 32 * 1024), SHUTDOWN_DRAIN_MS: '0' })
    try {
      const res = await fetch(`${small.url.href.replace(/\/$/, '')}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': '\\'.repeat(15_000) }, body: '\u0001'.repeat(1024) })
      const body = await res.json() as { error: { message: string } }
      expect([res.status, (await fetch(new URL('/ready', small.url))).status]).toEqual([415, 200])
      expect(body.error.message).toBe(`content type must be application/json, got "${'\\\\'.repeat(100)}" (cut from 15000 characters)`)
    } finally {
      await small.stop()
    }
  }, 60_000)
})
