/**
 * The README's MTTA/MTTR query (sql/queries/mtta_mttr.sql) over the view, for a scripted
 * incident life cycle in each webhook version (test/helpers/incident-life-cycle.ts) posted
 * through the endpoint, with known PagerDuty timestamps, so the figures are exact.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import type { Collector } from '../../src/app.ts'
import { eventually, postJson, ROOT, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { FIGURES, INCIDENTS, INCIDENTS_QUERY, lifeCycleDeliveries } from '../helpers/incident-life-cycle.ts'
import { migrate } from '../../src/db/migrate.ts'

const QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.sql'), 'utf8')
const REDSHIFT_QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.redshift.sql'), 'utf8')

let db: TestDatabase
let collector: Collector

beforeAll(async () => {
  db = await freshDatabase('mtta')
  await migrate(db.sql, 'postgres', 'atomic') // the collector migrates lazily; the count below needs the table now
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('mtta') })
}, 60_000)

afterAll(async () => {
  await collector?.stop()
  await db?.drop()
}, 30_000)

test('MTTA and MTTR per service, from the view, for an incident life cycle in each version', async () => {
  const deliveries = lifeCycleDeliveries()
  for (const [, body] of deliveries) {
    const response = await postJson(new URL('/com.pagerduty/v1', collector.url).href, body)
    expect(response.status).toBe(202)
  }
  // Drained = the spool's checkpoint at its end; not polling the database (PGlite serves one session).
  await eventually(() => collector.spool.stats().backlogBytes === 0, 20_000, 'spool drained')
  expect(Number((await db.sql`select count(*)::int as n from atomic.events`)[0]!.n)).toBe(deliveries.length)
  const rows = await db.sql.unsafe(QUERY)
  expect(rows.map((r): Record<string, unknown> => ({ ...r }))).toEqual(FIGURES)
  // One row per incident: first acknowledgement and resolution, by whom, the seconds between.
  const incidents = await db.sql.unsafe(INCIDENTS_QUERY())
  expect(incidents.map((r): Record<string, unknown> => ({ ...r }))).toEqual(INCIDENTS)
}, 60_000)

test('the Redshift variant of the query gives the same figures on PostgreSQL', async () => {
  const rows = await db.sql.unsafe(REDSHIFT_QUERY)
  expect(rows.map((r): Record<string, unknown> => ({ ...r }))).toEqual(FIGURES)
})
