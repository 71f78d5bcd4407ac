/**
 * An event the database rejects for its data is isolated: it goes to atomic.bad_rows with the
 * database's error, and the other events of its batch (here: of its very request) load.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { eventually, postJson, spawnCollector, type Spawned } from '../helpers/collector.ts'
import { tally, untilLoaded, v1Body } from '../helpers/traffic.ts'
import { pagerdutyEventId } from '../../src/events/event-id.ts'

let db: TestDatabase
let dataDir: string
let collector: Spawned
beforeAll(async () => {
  db = await freshDatabase('poison')
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

test.each([
  ['a NUL character, which a text column cannot hold', 'nul', (m: Record<string, unknown>) => { incident(m).trigger_summary_data.subject = 'CPU \u0000 high' }, 'SQLSTATE 22021: invalid byte sequence for encoding "UTF8": 0x00'],
  ['an incident number beyond the integer column', 'int', (m: Record<string, unknown>) => { incident(m).incident_number = 3_000_000_000 }, 'SQLSTATE 22003: value "3000000000" is out of range for type integer'],
])('an event with %s goes to bad_rows with the database error, and the rest of its batch loads', async (_, label, poison, error) => {
  const ids = [1, 2, 3, 4, 5].map((i) => `poison-${label}-${i}`)
  const bad = ids[2] as string
  const body = v1Body(ids, (m) => { if (m.id === bad) poison(m) })
  const res = await postJson(`${collector.url}/com.pagerduty/v1`, body)
  expect(res.status).toBe(202)
  expect(await res.json()).toEqual({ accepted: 5, bad: 0, pings: 0, version: 'v1' })
  const good = new Set(ids.filter((id) => id !== bad))
  expect(await untilLoaded(db.sql, good, `poison-${label}`)).toEqual({ acked: 4, loaded: 4, lost: 0, duplicated: 0 })
  const eventId = pagerdutyEventId('v1', bad, null)
  await eventually(async () => (await db.sql`select 1 from atomic.bad_rows where payload like ${`%${eventId}%`}`).length === 1, 10_000, 'the bad row')
  const rows = await db.sql`select reason, detail, vendor, version, payload from atomic.bad_rows where payload like ${`%${eventId}%`}`
  expect(rows.map((r) => ({ reason: r.reason, vendor: r.vendor, version: r.version, detail: JSON.parse(String(r.detail)), payload: (JSON.parse(String(r.payload)) as { eventId: string }).eventId })))
    .toEqual([{ reason: 'DATABASE_REJECTED', detail: [{ path: '', message: error }], vendor: 'com.pagerduty', version: 'v1', payload: eventId }])
  expect(await tally(db.sql, new Set([bad]), `poison-${label}`)).toEqual({ acked: 1, loaded: 0, lost: 1, duplicated: 0 })
}, 30_000)
