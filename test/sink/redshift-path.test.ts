/**
 * The whole Redshift path against PostgreSQL: the sql/redshift DDL (minus its Redshift-only
 * clauses) applied by migrate, the writer draining a spool of real fixtures through the
 * redshift dialect's staging tables, a replay, and a log of every statement the collector's
 * connection sent, checked for the constructs Redshift lacks.
 */
import { describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import { connect } from '../../src/db/connect.ts'
import { freshDatabase } from '../helpers/database.ts'
import { contextFor, drain, fixtureRecords, recordFor } from '../helpers/load.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { shimDdl, shimmedRedshift, statementLog } from '../helpers/redshift-shim.ts'

const TRIGGER = 'incident.trigger__pagerduty-developer-docs.json'
const trigger = JSON.parse(readFixture('v1', TRIGGER)) as { messages: unknown[] }
const V3_TRIGGERED = 'incident.triggered__rudder-transformer-incident_triggered_0.json'
const triggered = JSON.parse(readFixture('v3', V3_TRIGGERED)) as { event: Record<string, unknown> }
const teleported = JSON.stringify({ event: { ...triggered.event, event_type: 'incident.teleported' } })
const records = [
  // Every fixture of v1, v2 and v3 (the v2 giranm capture and its body are one message).
  ...fixtureRecords(),
  // PagerDuty retrying a delivery an hour later (another request, same event id), v1 and v3...
  recordFor('retry', readFixture('v1', TRIGGER), contextFor('retry', new Date('2026-03-01T13:00:00Z'))),
  recordFor('retry-v3', readFixture('v3', V3_TRIGGERED), contextFor('retry-v3', new Date('2026-03-01T13:00:00Z'))),
  // ...a body carrying the same message twice: the duplicate sits in the same batch...
  recordFor('twice', JSON.stringify({ messages: [trigger.messages[0], trigger.messages[0]] })),
  // ...and bad rows: an event type no schema knows, spooled twice (same request id, same
  // bad_row_id: a replay), and an incident number that is text.
  recordFor('teleported', teleported),
  recordFor('teleported', teleported),
  recordFor('number-as-text', JSON.stringify({ event: { ...triggered.event, data: { ...(triggered.event.data as object), number: 'two' } } })),
]
const eventIds = new Set(records.flatMap((r) => r.events.map((e) => e.eventId)))
const badRowIds = new Set(records.flatMap((r) => r.badRows.map((b) => b.bad_row_id)))
const shim = shimmedRedshift('redshift_path')
const log = shim.log
const load = () => drain(records, { sql: shim.rs, dialect: 'redshift', maxRows: 4, migrateOptions: { transform: shimDdl } })
const FILLED = 16
const count = async (query: string): Promise<number> => Number(((await shim.db.sql.unsafe(query)) as unknown as [{ n: string }])[0].n)

/** Rows per table after a load of `records`: each event once, each bad row once. */
const LOADED = { events: 62, com_pagerduty_incident_1: 11, com_pagerduty_webhook_v2_message_1: 5, com_pagerduty_webhook_v3_event_1: 46, bad_rows: 2, pagerduty_incident_events: 57 }
const tableCounts = async (sql: postgres.Sql): Promise<Record<string, number>> => {
  const out: Record<string, number> = {}
  for (const table of Object.keys(LOADED)) out[table] = Number(((await sql.unsafe(`select count(*) as n from atomic.${table}`)) as unknown as [{ n: string }])[0].n)
  return out
}
const VIEW_ROWS = 'select * from atomic.pagerduty_incident_events order by event_id'

describe('the redshift dialect on PostgreSQL with the shim', () => {
  test('the records hold every version, duplicates and bad rows, so every branch of the dialect runs', () => {
    expect(eventIds.size).toBe(62)
    expect(records.reduce((n, r) => n + r.events.length, 0)).toBe(67)
    expect(badRowIds.size).toBe(2)
    expect(records.reduce((n, r) => n + r.badRows.length, 0)).toBe(3)
  })

  test('a first drain loads every event of every version once, its row in its version\'s table, and each bad row once', async () => {
    const status = await load()
    // Three bad rows spooled, one of them twice (a replay): two inserted, two counted.
    expect({ loaded: status.loadedEvents, duplicates: status.duplicateEvents, bad: status.badRows, rejected: status.rejectedEvents })
      .toEqual({ loaded: 62, duplicates: 5, bad: 2, rejected: 0 })
    expect(await tableCounts(shim.db.sql)).toEqual(LOADED)
    expect(await count('select count(distinct event_id) as n from atomic.events')).toBe(62)
    // v1 11 + v2 5 + v3 41 incident.* events (the 5 service.* events are no incident's).
    expect(await count(`select count(*) as n from atomic.pagerduty_incident_events where webhook_version = 'v3'`)).toBe(41)
  })

  test('values land in their columns, and the whole message in the SUPER column via JSON_PARSE', async () => {
    const rows = await shim.db.sql.unsafe(`select i.type, i."data.incident.id" as incident, i."data.incident.incident_number" as number,
        i."data.incident.escalation_policy.id" as policy, i.raw_message->'data'->'incident'->>'id' as raw_id,
        jsonb_typeof(i.raw_message::jsonb) as raw_type, e.event_vendor, e.v_tracker, e.app_id, e.collector_tstamp
      from atomic.com_pagerduty_incident_1 i join atomic.events e on e.event_id = i.root_id and e.collector_tstamp = i.root_tstamp
      where i."data.incident.id" = 'PRORDTY' and i.type = 'trigger'`)
    // One row, the first delivery's: the retry an hour later and the doubled message were dropped.
    expect([...rows] as unknown[]).toEqual([{ type: 'trigger', incident: 'PRORDTY', number: 2126, policy: 'P5ARF12', raw_id: 'PRORDTY', raw_type: 'object', event_vendor: 'com.pagerduty', v_tracker: 'com.pagerduty-v1', app_id: 'test', collector_tstamp: '2026-03-01 12:00:00' }])
  })

  test('a v2 message lands in its columns, its log entries and the message in SUPER columns', async () => {
    const rows = await shim.db.sql.unsafe(`select m.event, m.created_on, m."incident.id" as incident, m."incident.incident_number" as number,
        m."incident.service.name" as service, m."log_entries[0].type" as entry, m."log_entries[0].agent.id" as agent, m."webhook.name" as webhook,
        jsonb_typeof(m.log_entries::jsonb) as entries_type, m.raw_message->>'id' as raw_id, e.v_tracker
      from atomic.com_pagerduty_webhook_v2_message_1 m join atomic.events e on e.event_id = m.root_id and e.collector_tstamp = m.root_tstamp
      where m.id = '69a7ced0-a2cd-11e7-a799-22000a15839c'`)
    expect([...rows] as unknown[]).toEqual([{ event: 'incident.trigger', created_on: '2017-09-26 15:14:36', incident: 'PRORDTY', number: 33, service: 'Production XDB Cluster', entry: 'trigger_log_entry', agent: 'P553OPV', webhook: 'V2 wabhook', entries_type: 'array', raw_id: '69a7ced0-a2cd-11e7-a799-22000a15839c', v_tracker: 'com.pagerduty-v2' }])
  })

  test('a v3 event lands in its columns with its milliseconds, data and the event in SUPER columns, once despite the retry', async () => {
    const rows = await shim.db.sql.unsafe(`select v.event_type, v.occurred_at, v."incident.id" as incident, v."incident.number" as number,
        v."service.id" as service_id, v."service.summary" as service, v."agent.id" as agent, v.data->>'id' as data_id,
        jsonb_typeof(v.raw_message::jsonb) as raw_type, e.v_tracker, e.collector_tstamp
      from atomic.com_pagerduty_webhook_v3_event_1 v join atomic.events e on e.event_id = v.root_id and e.collector_tstamp = v.root_tstamp
      where v.id = '01DEN0V2VIFEN5871PQGX72URP'`)
    expect([...rows] as unknown[]).toEqual([{ event_type: 'incident.triggered', occurred_at: '2022-12-07 10:56:52.337', incident: 'Q3S7IX2U5KTCOY', number: 2, service_id: 'PAJBUTT', service: 'Database', agent: 'PXZZD2E', data_id: 'Q3S7IX2U5KTCOY', raw_type: 'object', v_tracker: 'com.pagerduty-v3', collector_tstamp: '2026-03-01 12:00:00' }])
  })

  test('the Redshift view gives exactly the rows of the PostgreSQL view over a postgres-dialect load of the same records', async () => {
    const other = await freshDatabase('redshift_view_pg')
    const pg = connect({ url: other.url, dialect: 'postgres', max: 1 })
    try {
      await drain(records, { sql: pg, dialect: 'postgres', maxRows: 50 })
      const [redshiftRows, postgresRows] = [[...(await shim.db.sql.unsafe(VIEW_ROWS))], [...(await other.sql.unsafe(VIEW_ROWS))]]
      expect(redshiftRows.length).toBe(57)
      expect(redshiftRows).toEqual(postgresRows)
      expect(await tableCounts(other.sql)).toEqual(LOADED)
    } finally {
      await pg.end({ timeout: 1 })
      await other.drop()
    }
    // Not a vacuous match: v3 events that only reference their incident (notes, responders,
    // status updates...) took their service from the incident's latest event naming one.
    expect(await count(`select count(*) as n from atomic.pagerduty_incident_events p
      join atomic.com_pagerduty_webhook_v3_event_1 v on v.root_id = p.event_id
      where v."service.id" is null and p.service_id is not null`)).toBe(FILLED)
  }, 60_000)

  test('a replayed spool loads nothing twice: every event counts as a duplicate', async () => {
    const status = await load()
    expect({ loaded: status.loadedEvents, duplicates: status.duplicateEvents, rejected: status.rejectedEvents }).toEqual({ loaded: 0, duplicates: 67, rejected: 0 })
    expect(await tableCounts(shim.db.sql)).toEqual(LOADED)
  })

  test('the statement log of the whole run holds no construct Redshift lacks', () => {
    expect(log.statements.length).toBeGreaterThan(20)
    expect(log.violations()).toEqual([])
  })

  test('the log shows the staging pattern: temp table, DELETE ... USING, INSERT ... SELECT, DROP', () => {
    const kinds = new Set(log.statements.map((s) => s.text.replace(/"pdc_stage_\d+"/g, 'STAGE').match(/^(CREATE TEMP TABLE STAGE|DELETE FROM STAGE USING|SELECT .* FROM STAGE|INSERT INTO STAGE|INSERT INTO "atomic"\."\w+" \(.*\) SELECT|INSERT INTO "atomic"\."\w+" \(.*\) VALUES|DROP TABLE STAGE)/)?.[1]?.replace(/ \(.*\)/, '')).filter(Boolean))
    expect([...kinds].sort()).toEqual([
      'CREATE TEMP TABLE STAGE', 'DELETE FROM STAGE USING', 'DROP TABLE STAGE', 'INSERT INTO "atomic"."com_pagerduty_incident_1" VALUES',
      'INSERT INTO "atomic"."com_pagerduty_webhook_v2_message_1" VALUES', 'INSERT INTO "atomic"."com_pagerduty_webhook_v3_event_1" VALUES',
      'INSERT INTO "atomic"."bad_rows" SELECT', 'INSERT INTO "atomic"."events" SELECT', 'INSERT INTO STAGE', 'SELECT "bad_row_id" AS key FROM STAGE', 'SELECT "event_id" AS key FROM STAGE',
    ].sort())
  })
})

describe('the statement log', () => {
  test('flags the postgres dialect, which Redshift could not run', async () => {
    const pgLog = statementLog()
    const other = await freshDatabase('redshift_detector')
    // fetch_types on (the collector turns it off everywhere): the detector must see that too.
    const pg = connect({ url: other.url, dialect: 'postgres', max: 1, overrides: { debug: pgLog.debug, fetch_types: true } })
    try {
      await drain(records.slice(0, 2), { sql: pg, dialect: 'postgres' })
    } finally {
      await pg.end({ timeout: 1 })
      await other.drop()
    }
    const names = new Set(pgLog.violations().map((v) => v.slice(0, v.indexOf(':'))))
    expect([...names].sort()).toEqual(['= ANY(array)', 'ARRAY constructor', 'CREATE INDEX', 'LATERAL', 'ON CONFLICT', 'RETURNING', 'advisory lock', 'array type', 'data-modifying WITH', 'jsonb', 'pg_type.typarray (fetch_types)', 'unnest'].sort())
  }, 60_000)
})
