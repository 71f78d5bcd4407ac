/**
 * An event the database rejects for its data is isolated: it goes to atomic.bad_rows with the
 * database's error, and the other events of its batch (here: of its very request) load. Values
 * the database would refuse in any table (NUL, lone surrogates, integers past 32 bits) are made
 * storable by the adapter instead, so they never cost an event.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { eventually, postJson, spawnCollector, type Spawned } from '../helpers/collector.ts'
import { tally, untilLoaded, v1Body } from '../helpers/traffic.ts'
import { pagerdutyEventId } from '../../src/events/event-id.ts'
import { migrate } from '../../src/db/migrate.ts'

let db: TestDatabase
let dataDir: string
let collector: Spawned
beforeAll(async () => {
  db = await freshDatabase('poison')
  // The poison: a CHECK constraint a DBA added, which the adapter cannot know about.
  await migrate(db.sql, 'postgres', 'atomic')
  await db.sql.unsafe(`alter table atomic.com_pagerduty_incident_1 add constraint no_poison check ("data.incident.trigger_summary_data.subject" is distinct from 'POISON')`)
  dataDir = tempDir('poison')
  collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: db.url })
}, 60_000)
afterAll(async () => {
  collector.proc.kill('SIGTERM')
  await collector.proc.exited
  await db.drop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

type Incident = { trigger_summary_data: Record<string, unknown>; incident_number: number }
const incident = (m: Record<string, unknown>) => (m.data as { incident: Incident }).incident

test('an event the database refuses goes to bad_rows with its error; the rest of its batch, and a bad message beside it, load', async () => {
  const ids = [1, 2, 3, 4, 5].map((i) => `poison-check-${i}`)
  const bad = ids[2] as string
  const body = JSON.parse(v1Body(ids, (m) => { if (m.id === bad) incident(m).trigger_summary_data.subject = 'POISON' })) as { messages: unknown[] }
  body.messages.push({ neither: 'type nor event' })
  const res = await postJson(`${collector.url}/com.pagerduty/v1`, JSON.stringify(body))
  expect(res.status).toBe(202)
  expect(await res.json()).toEqual({ accepted: 5, bad: 1, pings: 0, version: 'v1' })
  const good = new Set(ids.filter((id) => id !== bad))
  expect(await untilLoaded(db.sql, good, 'poison-check')).toEqual({ acked: 4, loaded: 4, lost: 0, duplicated: 0 })
  const eventId = pagerdutyEventId('v1', bad, null)
  await eventually(async () => (await db.sql`select 1 from atomic.bad_rows where payload like ${`%${eventId}%`}`).length === 1, 10_000, 'the bad row')
  const rows = await db.sql`select reason, detail, vendor, version, payload from atomic.bad_rows where payload like ${`%${eventId}%`}`
  expect(rows.map((r) => ({ reason: r.reason, vendor: r.vendor, version: r.version, detail: (JSON.parse(String(r.detail)) as { message: string }[])[0]?.message.split(':')[0], payload: (JSON.parse(String(r.payload)) as { eventId: string }).eventId })))
    .toEqual([{ reason: 'DATABASE_REJECTED', detail: 'SQLSTATE 23514', vendor: 'com.pagerduty', version: 'v1', payload: eventId }])
  expect(await tally(db.sql, new Set([bad]), 'poison-check')).toEqual({ acked: 1, loaded: 0, lost: 1, duplicated: 0 })
  await eventually(async () => (await db.sql`select 1 from atomic.bad_rows where reason = 'UNKNOWN_WEBHOOK_VERSION'`).length === 1, 10_000, 'the bad message')
}, 30_000)

test('values PostgreSQL cannot store (NUL, a lone surrogate, a number past the integer column) load with U+FFFD or NULL, not as bad rows', async () => {
  const ids = ['nul', 'surrogate', 'hidden-nul', 'int'].map((k) => `unstorable-${k}`)
  const body = v1Body(ids, (m) => {
    if (m.id === 'unstorable-nul') incident(m).trigger_summary_data.subject = 'CPU @@NUL@@ high'
    if (m.id === 'unstorable-surrogate') incident(m).trigger_summary_data.subject = 'CPU @@SUR@@ high'
    if (m.id === 'unstorable-hidden-nul') (incident(m) as unknown as Record<string, unknown>)['x@@NUL@@key'] = 'no column for this @@NUL@@'
    if (m.id === 'unstorable-int') incident(m).incident_number = 3_000_000_000
  }).replaceAll('@@NUL@@', '\\u0000').replaceAll('@@SUR@@', '\\ud800')
  const res = await postJson(`${collector.url}/com.pagerduty/v1`, body)
  expect(res.status).toBe(202)
  expect(await untilLoaded(db.sql, new Set(ids), 'unstorable')).toEqual({ acked: 4, loaded: 4, lost: 0, duplicated: 0 })
  const rows = await db.sql`
    select id, "data.incident.trigger_summary_data.subject" as subject, "data.incident.incident_number" as number,
      raw_message->'data'->'incident'->>'incident_number' as raw_number, raw_message->'data'->'incident'->>${'x\uFFFDkey'} as hidden
    from atomic.com_pagerduty_incident_1 where id like 'unstorable-%' order by id`
  expect(rows.map((r) => ({ ...r }))).toEqual([
    { id: 'unstorable-hidden-nul', subject: 'CPU Load High on xdb_production_echo', number: 2126, raw_number: '2126', hidden: 'no column for this \uFFFD' },
    { id: 'unstorable-int', subject: 'CPU Load High on xdb_production_echo', number: null, raw_number: '3000000000', hidden: null },
    { id: 'unstorable-nul', subject: 'CPU \uFFFD high', number: 2126, raw_number: '2126', hidden: null },
    { id: 'unstorable-surrogate', subject: 'CPU \uFFFD high', number: 2126, raw_number: '2126', hidden: null },
  ])
  expect((await db.sql`select reason from atomic.bad_rows where payload like '%unstorable%'`).length).toBe(0)
}, 30_000)
