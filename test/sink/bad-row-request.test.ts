/**
 * The bad rows' request column (46a3819): what a database may refuse in it, and spool records
 * an older version wrote without it.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import { migrate } from '../../src/db/migrate.ts'
import { requestText } from '../../src/events/bad-row.ts'
import type { Batch } from '../../src/sink/batch.ts'
import { loadColumns } from '../../src/sink/introspect.ts'
import { createPostgresSink } from '../../src/sink/postgres.ts'
import { decodeRecord } from '../../src/sink/records.ts'
import { createTablePlans } from '../../src/sink/tables.ts'
import { eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { databasePrefix, freshDatabase, hasServer, tempDir, type TestDatabase } from '../helpers/database.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('bad_row_request') }, 30_000)
afterAll(async () => { await db.drop() }, 30_000)

test('the request column is ASCII and each value is cut to its column width', () => {
  const text = requestText({ receivedAt: new Date(0), query: { aid: '☃'.repeat(300) }, ipAddress: null, userAgent: 'u'.repeat(5000), webhookId: null, requestId: 'r' })
  expect(/^[\x20-\x7e]*$/.test(text)).toBe(true)
  const parsed = JSON.parse(text) as { query: { aid: string }; useragent: string }
  expect(parsed.query.aid).toBe('☃'.repeat(255))
  expect(parsed.useragent.length).toBe(1000)
})

test('a bad row from an older version\'s spool record, then one of this version: the second keeps its request', async () => {
  await migrate(db.sql, 'postgres', 'atomic')
  const sink = createPostgresSink({ sql: db.sql, schema: 'atomic', plans: createTablePlans('atomic', await loadColumns(db.sql, 'atomic')) })
  const base = { received_at: '2026-01-01 00:00:00.000', reason: 'INVALID_JSON', detail: '[]', vendor: 'com.pagerduty', version: null, payload: '{' }
  const old = { bad_row_id: '00000000-0000-0000-0000-000000000001', ...base }
  const fresh = { bad_row_id: '00000000-0000-0000-0000-000000000002', ...base, request: '{"query":{"aid":"acme"},"user_ipaddress":null,"useragent":null,"webhook_id":null}' }
  const batch: Batch = { events: [], badRows: [] }
  const record = (body: unknown, offset: number) => ({ position: { segment: 1, offset }, next: { segment: 1, offset: offset + 1 }, events: 0, payload: new TextEncoder().encode(JSON.stringify(body)) })
  decodeRecord(record({ events: [], badRows: [old] }, 0), batch)
  decodeRecord(record({ events: [], badRows: [fresh] }, 1), batch)
  await sink.write(batch)
  const [row] = await db.sql`select request from atomic.bad_rows where bad_row_id = ${fresh.bad_row_id}`
  expect(row?.request).toBe(fresh.request)
})

// Databases whose encoding lacks characters a client chose: a query value (LATIN1 has no ☃),
// a header byte quoted in a 415's detail (WIN1252 has no U+0081). The bad rows must land,
// their payloads kept, and loading go on (a refused last-resort write stalled it for good).
test.skipIf(!hasServer()).each(['LATIN1', 'WIN1252'])('rejected requests carrying characters a %s database lacks: their bad rows are stored whole and loading goes on', async (encoding) => {
  const server = process.env.TEST_DATABASE_URL as string
  const name = `${databasePrefix()}${encoding.toLowerCase()}_${process.pid}`
  const admin = postgres(server, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database "${name}" encoding '${encoding}' lc_collate 'C' lc_ctype 'C' template template0`)
  const url = new URL(server)
  url.pathname = `/${name}`
  const sql = postgres(url.href, { max: 1, onnotice: () => {} })
  const c = await spawnCollector({ DATABASE_URL: url.href, DATA_DIR: tempDir(encoding) })
  try {
    expect((await postJson(`${c.url}/com.pagerduty/v1?aid=%E2%98%83`, '{not json')).status).toBe(400)
    expect((await fetch(`${c.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'a\u0081\u009d\u00ff' }, body: '{"plain":"ascii"}' })).status).toBe(415)
    await eventually(async () => (await sql`select count(*)::int as n from atomic.bad_rows`)[0]?.n === 2, 15_000, 'the bad rows')
    const rows = await sql`select reason, payload, request, detail from atomic.bad_rows order by reason`
    expect(rows.map((r) => [r.reason, r.payload])).toEqual([['INVALID_JSON', '{not json'], ['UNSUPPORTED_MEDIA_TYPE', '{"plain":"ascii"}']])
    expect(JSON.parse(String(rows[0]?.request)).query).toEqual({ aid: '☃' })
    expect(JSON.parse(String(rows[1]?.detail))[0].message).toBe(String.raw`content type must be application/json, got "a\u0081\u009d\u00ff"`) // ASCII escapes, as text
  } finally {
    c.proc.kill('SIGTERM')
    await c.proc.exited
    await sql.end({ timeout: 1 })
    await admin.unsafe(`drop database if exists "${name}" with (force)`)
    await admin.end()
  }
}, 60_000)
