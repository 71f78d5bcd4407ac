/**
 * The views at a size where a plan's shape matters: thousands of v3 events, most of them
 * (notes, responders) naming no service, with the statistics ANALYZE gives. The join of each
 * shredded table to its event (on event_id and collector_tstamp, both near-unique) is estimated
 * at one row, and PostgreSQL then rescanned a whole-table subquery once per event: a quadratic
 * plan (over a million v3 events, `select *` ran for more than ten minutes). No timing here:
 * EXPLAIN ANALYZE counts the rows each plan node produced over all its loops, and that work must
 * stay within a small multiple of the events.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { migrate } from '../../src/db/migrate.ts'
import { freshDatabase, hasServer, type TestDatabase } from '../helpers/database.ts'

const EVENTS = 4000 // four per incident: triggered, a note, acknowledged, resolved

let db: TestDatabase
beforeAll(async () => {
  db = await freshDatabase('view_scale')
  await migrate(db.sql, 'postgres', 'atomic')
  // As the collector writes them: root_id = event_id, root_tstamp = collector_tstamp.
  await db.sql.unsafe(`
    insert into atomic.events (event_id, collector_tstamp, v_collector, v_etl, app_id, v_tracker)
      select md5(g::text)::uuid::text, timestamp '2026-01-01' + g * interval '1 second', 'c', 'e', 'acme', 'com.pagerduty-v3' from generate_series(1, ${EVENTS}) g;
    insert into atomic.com_pagerduty_webhook_v3_event_1 (schema_vendor, schema_name, schema_format, schema_version, root_id, root_tstamp, ref_root, ref_tree, ref_parent,
        id, event_type, occurred_at, data, raw_message, "incident.id", "incident.number", "incident.status", "service.id", "service.summary", "agent.id")
      select 'com.pagerduty', 'webhook_v3_event', 'jsonschema', '1-0-0', md5(g::text)::uuid::text, timestamp '2026-01-01' + g * interval '1 second', 'events', 'events', 'events',
        'E' || g, (array['incident.triggered', 'incident.annotated', 'incident.acknowledged', 'incident.resolved'])[1 + g % 4], timestamp '2026-01-01' + g * interval '1 second', '{}', '{}',
        'P' || (g / 4), g / 4, (array['triggered', null, 'acknowledged', 'resolved'])[1 + g % 4],
        case when g % 4 = 1 then null else 'S' || (g / 4 % 50) end, case when g % 4 = 1 then null else 'service ' || (g / 4 % 50) end, 'U' || (g % 30)
      from generate_series(1, ${EVENTS}) g;
    analyze`).simple()
}, 60_000)
afterAll(async () => { await db?.drop() })

interface PlanNode { 'Node Type': string; 'Actual Rows': number; 'Actual Loops': number; Plans?: PlanNode[]; 'Relation Name'?: string }
/** The node that produced the most rows over all its loops, and that count. */
function heaviest(node: PlanNode): { what: string; rows: number } {
  const own = { what: `${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}`, rows: node['Actual Rows'] * node['Actual Loops'] }
  return (node.Plans ?? []).map(heaviest).reduce((a, b) => (b.rows > a.rows ? b : a), own)
}

test.skipIf(!hasServer()).each(['pagerduty_incident_events', 'pagerduty_incidents'])('select * from %s does work linear in the events, not quadratic, even in nested loops', async (view) => {
  // Nested loops, as PostgreSQL chooses for these joins at a million events (estimated at one
  // row); at this size it would pick hash or merge joins and hide a quadratic shape.
  const [row] = await db.sql.begin(async (tx) => {
    await tx.unsafe('set local enable_hashjoin = off; set local enable_mergejoin = off').simple()
    return tx.unsafe(`explain (analyze, format json) select * from atomic.${view}`)
  })
  const plan = (row?.['QUERY PLAN'] as { Plan: PlanNode }[])[0]?.Plan as PlanNode
  const worst = heaviest(plan)
  expect([worst.what, worst.rows <= 5 * EVENTS]).toEqual([worst.what, true])
  // v3 notes (a quarter of the events) took the service of their incident's other events.
  const [filled] = await db.sql.unsafe(`select count(*)::int as n from atomic.pagerduty_incident_events where event_type = 'incident.annotated' and service_name is not null`)
  expect(filled?.n).toBe(EVENTS / 4)
}, 60_000)
