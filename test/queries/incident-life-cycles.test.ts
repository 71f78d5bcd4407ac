/**
 * atomic.pagerduty_incidents, column by column, for the incident life cycles of
 * test/helpers/incident-scenarios.ts (unacknowledged, reopened, status-less v3 events, out of
 * order, v2 and v3 together, no trigger, DST offsets, moved, same-second changes), loaded
 * through the adapter and the writer, on PostgreSQL and through the redshift dialect on the
 * Redshift DDL (test/helpers/redshift-shim.ts): the same rows, and the MTTA/MTTR queries'
 * figures from them.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from '../helpers/collector.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { DELIVERIES, FIGURES, INCIDENTS, SCENARIO_QUERY } from '../helpers/incident-scenarios.ts'
import { drain, recordFor } from '../helpers/load.ts'
import { shimDdl, shimmedRedshift } from '../helpers/redshift-shim.ts'

const QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.sql'), 'utf8')
const REDSHIFT_QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.redshift.sql'), 'utf8')
const records = () => DELIVERIES.map(([name, body, ctx]) => recordFor(name, body, ctx))
const plain = (rows: readonly object[]) => rows.map((r): Record<string, unknown> => ({ ...r }))
const byIncident = (rows: Record<string, unknown>[], id: string) => rows.find((r) => r.incident_id === id)

let db: TestDatabase
beforeAll(async () => {
  db = await freshDatabase('life_cycles')
  await drain(records(), { sql: db.sql, dialect: 'postgres' })
}, 60_000)
afterAll(async () => { await db?.drop() }, 30_000)
const shim = shimmedRedshift('life_cycles_rs')

test.each(INCIDENTS.map((r) => [r.incident_id, r] as const))('pagerduty_incidents on PostgreSQL: %s', async (id, expected) => {
  expect(byIncident(plain(await db.sql.unsafe(SCENARIO_QUERY)), id!)).toEqual(expected)
})

test('pagerduty_incidents on PostgreSQL: one row per incident, the same in any session time zone', async () => {
  const rows = plain(await db.sql.unsafe(SCENARIO_QUERY))
  expect(rows).toEqual(INCIDENTS)
  // Times are UTC timestamps; the seconds must not move with the session's zone across DST.
  const zoned = await db.sql.begin(async (tx) => {
    await tx.unsafe(`set local timezone = 'America/Los_Angeles'`)
    return plain(await tx.unsafe(SCENARIO_QUERY))
  })
  expect(zoned).toEqual(rows)
})

test('MTTA and MTTR per service for these life cycles, both queries, on PostgreSQL', async () => {
  expect(plain(await db.sql.unsafe(QUERY))).toEqual(FIGURES)
  expect(plain(await db.sql.unsafe(REDSHIFT_QUERY))).toEqual(FIGURES)
})

test('the same rows and figures through the redshift dialect and the Redshift views', async () => {
  await drain(records(), { sql: shim.rs, dialect: 'redshift', migrateOptions: { transform: shimDdl } })
  expect(plain(await shim.rs.unsafe(SCENARIO_QUERY))).toEqual(INCIDENTS)
  expect(plain(await shim.rs.unsafe(REDSHIFT_QUERY))).toEqual(FIGURES)
  expect(shim.log.violations()).toEqual([])
}, 60_000)
