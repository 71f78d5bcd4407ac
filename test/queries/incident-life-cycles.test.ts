/**
 * atomic.pagerduty_incidents, column by column, for the incident life cycles of
 * test/helpers/incident-scenarios.ts (unacknowledged, reopened, status-less v3 events, out of
 * order, v2 and v3 together, no trigger, DST offsets, moved, renamed, same-second changes,
 * acknowledged or resolved by a service or an integration, merged), loaded
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
/** The query the README shows under "MTTA and MTTR per service" (a shorter copy of QUERY). */
const README_QUERY = (() => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  return readme.slice(readme.indexOf('### MTTA and MTTR per service')).match(/```sql\n([\s\S]*?)```/)?.[1] ?? ''
})()
/** The README's query under "Only what people did": MTTA of people's acknowledgements, MTTR without merged incidents. */
const PEOPLE_QUERY = (() => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  return readme.slice(readme.indexOf('#### Only what people did')).match(/```sql\n([\s\S]*?)```/)?.[1] ?? ''
})()
/** Its figures, from INCIDENTS: per service id, merged incidents left out, the mean over the incidents a person first acknowledged. */
const PEOPLE_FIGURES = (() => {
  const mean = (values: (string | null | undefined)[]) => {
    const known = values.filter((v): v is string => typeof v === 'string').map(Number)
    return known.length === 0 ? null : (known.reduce((a, b) => a + b, 0) / known.length).toFixed(3)
  }
  const counted = INCIDENTS.filter((r) => (r.triggered_at ?? r.created_at) !== null && r.resolve_reason !== 'merge')
  const services = [...new Set(counted.map((r) => r.service_id!))].sort((a, b) => (a < b ? -1 : 1))
  return services.map((id) => {
    const of = counted.filter((r) => r.service_id === id)
    const people = of.filter((r) => r.acknowledged_by_type === 'user')
    return { service_id: id, incidents: String(of.length), acknowledged_by_people: String(people.length), mtta_seconds: mean(people.map((r) => r.seconds_to_acknowledge)), mttr_seconds: mean(of.map((r) => r.seconds_to_resolve)) }
  })
})()
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

test('MTTA and MTTR per service for these life cycles, both queries and the README\'s, on PostgreSQL', async () => {
  expect(plain(await db.sql.unsafe(QUERY))).toEqual(FIGURES)
  expect(plain(await db.sql.unsafe(REDSHIFT_QUERY))).toEqual(FIGURES)
  expect(plain(await db.sql.unsafe(README_QUERY))).toEqual(FIGURES)
})

test('the same rows and figures through the redshift dialect and the Redshift views', async () => {
  await drain(records(), { sql: shim.rs, dialect: 'redshift', migrateOptions: { transform: shimDdl } })
  expect(plain(await shim.rs.unsafe(SCENARIO_QUERY))).toEqual(INCIDENTS)
  expect(plain(await shim.rs.unsafe(REDSHIFT_QUERY))).toEqual(FIGURES)
  // And the events view under it, row for row (its service lookup is written differently there).
  const events = `select *, occurred_at::text as occurred_at, collector_tstamp::text as collector_tstamp from atomic.pagerduty_incident_events order by event_id`
  expect(plain(await shim.rs.unsafe(events))).toEqual(plain(await db.sql.unsafe(events)))
  expect(shim.log.violations()).toEqual([])
}, 60_000)

test('the README\'s MTTA of people\'s acknowledgements leaves out those by a service, an integration or another kind, and its MTTR the merged incidents, on PostgreSQL and Redshift', async () => {
  expect(PEOPLE_QUERY).toContain("acknowledged_by_type = 'user'")
  const rows = plain(await db.sql.unsafe(PEOPLE_QUERY))
  expect(rows).toEqual(PEOPLE_FIGURES)
  // Acknowledged first by an integration (PAUX, PTIE2) or an agent of another kind (PKIND): in
  // the count, not in the mean; merged (PMERGED2, PMERGED3): not at all.
  expect(rows.filter((r) => ['SPAUX', 'SPTIE2', 'SPKIND'].includes(String(r.service_id))).map((r) => r.mtta_seconds)).toEqual([null, null, null])
  expect(rows.map((r) => r.service_id)).not.toContain('SPMERGED3')
  expect(rows.find((r) => r.service_id === 'SRENAME')).toEqual({ service_id: 'SRENAME', incidents: '2', acknowledged_by_people: '2', mtta_seconds: '180.000', mttr_seconds: '900.000' })
  await drain(records(), { sql: shim.rs, dialect: 'redshift', migrateOptions: { transform: shimDdl } })
  expect(plain(await shim.rs.unsafe(PEOPLE_QUERY))).toEqual(PEOPLE_FIGURES)
  expect(shim.log.violations()).toEqual([])
}, 60_000)

test('the README\'s last resolution of a reopened incident: the second once resolved again, the first while open again', async () => {
  const rows = await db.sql.unsafe(`select incident_id, max(occurred_at)::text as last_resolved
    from atomic.pagerduty_incident_events where event_type = 'incident.resolved' and incident_id in ('PREOPEN', 'PREOPENED')
    group by incident_id order by incident_id`)
  expect(plain(rows)).toEqual([{ incident_id: 'PREOPEN', last_resolved: '2024-03-01 12:30:00' }, { incident_id: 'PREOPENED', last_resolved: '2024-03-01 10:20:00' }])
})

test('the incidents view grouped by service_id gives the MTTA/MTTR query\'s figures, but for an incident moved after its trigger', async () => {
  const rows = await db.sql.unsafe(`select service_id, count(*)::text as incidents,
      round(avg(seconds_to_acknowledge), 3)::text as mtta_seconds, round(avg(seconds_to_resolve), 3)::text as mttr_seconds
    from atomic.pagerduty_incidents where coalesce(triggered_at, created_at) is not null group by service_id order by service_id`)
  const moved = ({ service_name: _, ...r }: Record<string, unknown>) => (r.service_id === 'SPMOVED' ? { ...r, service_id: 'SPMOVED-B' } : r)
  expect(plain(rows)).toEqual(FIGURES.map(moved).sort((a, b) => (String(a.service_id) < String(b.service_id) ? -1 : 1)))
})

test('an incident whose trigger was not received counts from its creation, in each version, and one with neither is left out', async () => {
  const rows = await db.sql.unsafe(`select incident_id, webhook_version, triggered_at::text, created_at::text, seconds_to_acknowledge::text
    from atomic.pagerduty_incidents where incident_id like 'PNO%' order by incident_id`)
  expect(plain(rows)).toEqual([
    { incident_id: 'PNOCREATED', webhook_version: 'v3', triggered_at: null, created_at: null, seconds_to_acknowledge: null },
    { incident_id: 'PNOTRIGGER', webhook_version: 'v3', triggered_at: null, created_at: '2024-03-01 10:00:00', seconds_to_acknowledge: '180.000' },
    { incident_id: 'PNOTRIGGER1', webhook_version: 'v1', triggered_at: null, created_at: '2024-03-01 09:58:30', seconds_to_acknowledge: '330.000' },
    { incident_id: 'PNOTRIGGER2', webhook_version: 'v2', triggered_at: null, created_at: '2024-03-01 10:00:00', seconds_to_acknowledge: '60.000' },
  ])
  const figures = plain(await db.sql.unsafe(QUERY)).filter((r) => String(r.service_id).startsWith('SPNO'))
  expect(figures.map((r) => r.service_id)).toEqual(['SPNOTRIGGER', 'SPNOTRIGGER1', 'SPNOTRIGGER2'])
})

test('a renamed service is one row of the MTTA/MTTR queries, under its latest name, not the old name a later note on an older incident carries', async () => {
  for (const query of [QUERY, REDSHIFT_QUERY]) {
    const rows = plain(await db.sql.unsafe(query)).filter((r) => r.service_id === 'SRENAME')
    expect(rows).toEqual([{ service_name: 'Billing API', service_id: 'SRENAME', incidents: '2', mtta_seconds: '180.000', mttr_seconds: '900.000' }])
  }
})
