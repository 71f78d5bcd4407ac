/**
 * The whole Redshift path against PostgreSQL: the sql/redshift DDL (minus its Redshift-only
 * clauses) applied by migrate, the writer draining a spool of real fixtures through the
 * redshift dialect's staging tables, a replay, and a log of every statement the collector's
 * connection sent, checked for the constructs Redshift lacks.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import { connect } from '../../src/db/connect.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { contextFor, drain, fixtureRecords, recordFor } from '../helpers/load.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { installShim, shimDdl, statementLog } from '../helpers/redshift-shim.ts'

const TRIGGER = 'incident.trigger__pagerduty-developer-docs.json'
const trigger = JSON.parse(readFixture('v1', TRIGGER)) as { messages: unknown[] }
const records = [
  ...fixtureRecords(),
  // PagerDuty retrying a delivery an hour later (another request, same event id)...
  recordFor('retry', readFixture('v1', TRIGGER), contextFor('retry', new Date('2026-03-01T13:00:00Z'))),
  // ...and a body carrying the same message twice: the duplicate sits in the same batch.
  recordFor('twice', JSON.stringify({ messages: [trigger.messages[0], trigger.messages[0]] })),
]
const eventIds = new Set(records.flatMap((r) => r.events.map((e) => e.eventId)))
const badRowIds = new Set(records.flatMap((r) => r.badRows.map((b) => b.bad_row_id)))
const log = statementLog()

let db: TestDatabase
let rs: postgres.Sql
const load = () => drain(records, { sql: rs, dialect: 'redshift', maxRows: 4, migrateOptions: { transform: shimDdl } })
const count = async (query: string): Promise<number> => Number(((await db.sql.unsafe(query)) as unknown as [{ n: string }])[0].n)

beforeAll(async () => {
  db = await freshDatabase('redshift_path')
  await installShim(db.sql)
  rs = connect({ url: db.url, dialect: 'redshift', max: 1, overrides: { ssl: false, debug: log.debug } })
}, 60_000)

afterAll(async () => {
  await rs?.end({ timeout: 1 })
  await db?.drop()
})

describe('the redshift dialect on PostgreSQL with the shim', () => {
  test('the records hold events, duplicates and bad rows, so every branch of the dialect runs', () => {
    expect(eventIds.size).toBe(11)
    expect(records.reduce((n, r) => n + r.events.length, 0)).toBe(14)
    expect(badRowIds.size).toBe(5)
  })

  test('a first drain loads every v1 event once, its incident row, and the v2 messages as bad rows', async () => {
    const status = await load()
    expect({ loaded: status.loadedEvents, duplicates: status.duplicateEvents, bad: status.badRows, rejected: status.rejectedEvents })
      .toEqual({ loaded: 11, duplicates: 3, bad: 5, rejected: 0 })
    expect(await count('select count(*) as n from atomic.events')).toBe(11)
    expect(await count('select count(distinct event_id) as n from atomic.events')).toBe(11)
    expect(await count('select count(*) as n from atomic.com_pagerduty_incident_1')).toBe(11)
    expect(await count('select count(*) as n from atomic.bad_rows')).toBe(5)
    expect(await count('select count(*) as n from atomic.pagerduty_incident_events')).toBe(11)
  })

  test('values land in their columns, and the whole message in the SUPER column via JSON_PARSE', async () => {
    const rows = await db.sql.unsafe(`select i.type, i."data.incident.id" as incident, i."data.incident.incident_number" as number,
        i."data.incident.escalation_policy.id" as policy, i.raw_message->'data'->'incident'->>'id' as raw_id,
        jsonb_typeof(i.raw_message::jsonb) as raw_type, e.event_vendor, e.v_tracker, e.app_id, e.collector_tstamp
      from atomic.com_pagerduty_incident_1 i join atomic.events e on e.event_id = i.root_id and e.collector_tstamp = i.root_tstamp
      where i."data.incident.id" = 'PRORDTY' and i.type = 'trigger'`)
    // One row, the first delivery's: the retry an hour later and the doubled message were dropped.
    expect([...rows] as unknown[]).toEqual([{ type: 'trigger', incident: 'PRORDTY', number: 2126, policy: 'P5ARF12', raw_id: 'PRORDTY', raw_type: 'object', event_vendor: 'com.pagerduty', v_tracker: 'com.pagerduty-v1', app_id: 'test', collector_tstamp: '2026-03-01 12:00:00' }])
  })

  test('a replayed spool loads nothing twice: every event counts as a duplicate', async () => {
    const status = await load()
    expect({ loaded: status.loadedEvents, duplicates: status.duplicateEvents, rejected: status.rejectedEvents }).toEqual({ loaded: 0, duplicates: 14, rejected: 0 })
    expect(await count('select count(*) as n from atomic.events')).toBe(11)
    expect(await count('select count(*) as n from atomic.com_pagerduty_incident_1')).toBe(11)
    expect(await count('select count(*) as n from atomic.bad_rows')).toBe(5)
  })

  test('the statement log of the whole run holds no construct Redshift lacks', () => {
    expect(log.statements.length).toBeGreaterThan(20)
    expect(log.violations()).toEqual([])
  })

  test('the log shows the staging pattern: temp table, DELETE ... USING, INSERT ... SELECT, DROP', () => {
    const kinds = new Set(log.statements.map((s) => s.text.replace(/"pdc_stage_\d+"/g, 'STAGE').match(/^(CREATE TEMP TABLE STAGE|DELETE FROM STAGE USING|SELECT .* FROM STAGE|INSERT INTO STAGE|INSERT INTO "atomic"\."\w+" \(.*\) SELECT|INSERT INTO "atomic"\."\w+" \(.*\) VALUES|DROP TABLE STAGE)/)?.[1]?.replace(/ \(.*\)/, '')).filter(Boolean))
    expect([...kinds].sort()).toEqual([
      'CREATE TEMP TABLE STAGE', 'DELETE FROM STAGE USING', 'DROP TABLE STAGE', 'INSERT INTO "atomic"."com_pagerduty_incident_1" VALUES',
      'INSERT INTO "atomic"."bad_rows" SELECT', 'INSERT INTO "atomic"."events" SELECT', 'INSERT INTO STAGE', 'SELECT "bad_row_id" AS key FROM STAGE', 'SELECT "event_id" AS key FROM STAGE',
    ].sort())
  })
})

describe('the statement log', () => {
  test('flags the postgres dialect, which Redshift could not run', async () => {
    const pgLog = statementLog()
    const other = await freshDatabase('redshift_detector')
    const pg = connect({ url: other.url, dialect: 'postgres', max: 1, overrides: { debug: pgLog.debug } })
    try {
      await drain(records.slice(0, 2), { sql: pg, dialect: 'postgres' })
    } finally {
      await pg.end({ timeout: 1 })
      await other.drop()
    }
    const names = new Set(pgLog.violations().map((v) => v.slice(0, v.indexOf(':'))))
    expect([...names].sort()).toEqual(['CREATE INDEX', 'ON CONFLICT', 'RETURNING', 'advisory lock', 'jsonb', 'pg_type.typarray (fetch_types)'].sort())
  }, 60_000)
})
