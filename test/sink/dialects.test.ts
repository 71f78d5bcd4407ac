/**
 * What both dialects must do alike: cut strings longer than their column on a character
 * boundary (characters on PostgreSQL, UTF-8 bytes on Redshift) while the JSON column keeps
 * the whole value, and load into a com_pagerduty_incident_1 deployed from Snowplow's DDL.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import type { Dialect } from '../../src/config.ts'
import { connect } from '../../src/db/connect.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { contextFor, drain, recordFor } from '../helpers/load.ts'
import { badRow } from '../../src/events/bad-row.ts'
import { loadColumns } from '../../src/sink/introspect.ts'
import { missingColumnsWarning, planTable } from '../../src/sink/tables.ts'
import { installShim, shimDdl, statementLog } from '../helpers/redshift-shim.ts'

const SNOWPLOW_DDL = fs.readFileSync(path.join(import.meta.dir, '..', 'fixtures', 'snowplow', 'com_pagerduty_incident_1.redshift.sql'), 'utf8')

/** The trigger fixture with a 301-character, 901-byte subject ("a" then 300 euro signs). */
const SUBJECT = `a${'€'.repeat(300)}`
function longSubjectRecord() {
  const body = JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')) as { messages: Record<string, any>[] }
  ;(body.messages[0] as Record<string, any>).data.incident.trigger_summary_data.subject = SUBJECT
  return recordFor('long-subject', JSON.stringify(body))
}

const cases: { dialect: Dialect; stored: string }[] = [
  // varchar(255) holds 255 characters on PostgreSQL...
  { dialect: 'postgres', stored: `a${'€'.repeat(254)}` },
  // ...and 255 bytes on Redshift: "a" and 84 three-byte signs are 253; an 85th would split.
  { dialect: 'redshift', stored: `a${'€'.repeat(84)}` },
]

describe.each(cases)('the $dialect dialect', ({ dialect, stored }) => {
  let db: TestDatabase
  let sql: postgres.Sql
  const log = statementLog()
  const transform = dialect === 'redshift' ? shimDdl : (text: string) => text
  const load = (schema: string) => drain([longSubjectRecord()], { sql, dialect, schema, migrateOptions: { transform } })

  beforeAll(async () => {
    db = await freshDatabase(`widths_${dialect}`)
    if (dialect === 'redshift') await installShim(db.sql)
    // Snowplow published its table for Redshift only; PostgreSQL gets it minus ENCODE and keys.
    await db.sql.unsafe(`create schema legacy; ${shimDdl(SNOWPLOW_DDL).replaceAll('atomic.', 'legacy.')}`).simple()
    sql = connect({ url: db.url, dialect, max: 1, overrides: { ssl: false, debug: log.debug } })
  }, 60_000)

  afterAll(async () => {
    await sql?.end({ timeout: 1 })
    await db?.drop()
  })

  test('cuts a long string to its column on a character boundary and keeps it whole in raw_message', async () => {
    expect(Buffer.byteLength(SUBJECT)).toBe(901)
    const status = await load('atomic')
    expect({ loaded: status.loadedEvents, rejected: status.rejectedEvents }).toEqual({ loaded: 1, rejected: 0 })
    const rows = await db.sql.unsafe(`select "data.incident.trigger_summary_data.subject" as subject,
        raw_message->'data'->'incident'->'trigger_summary_data'->>'subject' as whole from atomic.com_pagerduty_incident_1`)
    expect([...rows] as unknown[]).toEqual([{ subject: stored, whole: SUBJECT }])
  }, 60_000)

  test('loads a table deployed from Snowplow\'s DDL, filling its dotless escalation-policy columns', async () => {
    const status = await load('legacy')
    expect({ loaded: status.loadedEvents, rejected: status.rejectedEvents }).toEqual({ loaded: 1, rejected: 0 })
    const rows = await db.sql.unsafe(`select type, "data.incident.escalation_policyid" as policy_id, "data.incident.escalation_policyname" as policy_name,
        "data.incident.incident_number" as number, "data.incident.trigger_summary_data.subject" as subject from legacy.com_pagerduty_incident_1`)
    expect([...rows] as unknown[]).toEqual([{ type: 'trigger', policy_id: 'P5ARF12', policy_name: 'Database Team', number: '2126', subject: stored }])
    expect(Number(((await db.sql.unsafe('select count(*) as n from legacy.events')) as unknown as [{ n: string }])[0].n)).toBe(1)
  }, 60_000)

  test('says that what such a table lacks is stored nowhere: it has no raw_message either', async () => {
    const incident = longSubjectRecord().events[0]?.rows[1] as { table: string; row: Record<string, unknown> }
    const plan = planTable(incident.table, (await loadColumns(sql, 'legacy')).get(incident.table) ?? [], Object.keys(incident.row))
    // Exactly the four the README names: Snowplow's DDL has every other column the writer fills.
    expect([...plan.missing].sort()).toEqual(['data.incident.pending_actions', 'data.incident.urgency', 'raw_message', 'webhook_id'])
    expect(missingColumnsWarning('com_pagerduty_incident_1', plan.missing)).toContain('not stored')
    expect(missingColumnsWarning('com_pagerduty_incident_1', ['data.incident.urgency'])).toContain('stay in its JSON column')
    expect(missingColumnsWarning('bad_rows', ['request'])).toContain('bad-rows retry` then takes app_id and the rest from its QUERY argument')
  })

  // 60,000 bytes are 80,000 characters of base64: PostgreSQL's text keeps them all; Redshift's
  // varchar(65535) the first 65,532, which still decode (65,535 did not: decode() refused them).
  test('keeps a base64 payload that decodes: whole, or cut on a 4-character boundary', async () => {
    const bytes = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 7919) % 256))
    const row = badRow(contextFor('base64-payload'), 'request', 'INVALID_UTF8', [], null, bytes.toString('base64'), { payload_encoding: 'base64' })
    const status = await drain([{ events: [], badRows: [row] }], { sql, dialect, schema: 'atomic', migrateOptions: { transform } })
    expect(status.badRows).toBe(1)
    const [stored] = await db.sql`select length(payload) as length, decode(payload, 'base64') as bytes from atomic.bad_rows where bad_row_id = ${row.bad_row_id}`
    const kept = dialect === 'redshift' ? (65535 - (65535 % 4)) * 3 / 4 : 60_000
    expect([stored?.length, Buffer.from(stored?.bytes as Uint8Array).equals(bytes.subarray(0, kept))]).toEqual([dialect === 'redshift' ? 65532 : 80_000, true])
  }, 60_000)

  if (dialect === 'redshift') {
    test('sent nothing Redshift lacks', () => {
      expect(log.violations()).toEqual([])
    })
  }
})
