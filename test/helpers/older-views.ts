/**
 * Older collectors' views, exactly as they created them (test/fixtures/sql/views-<commit>/),
 * put in place of this version's: for the upgrade tests.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type postgres from 'postgres'
import { migrate, viewMarker } from '../../src/db/migrate.ts'
import { ROOT } from './collector.ts'

const VIEWS = ['pagerduty_incident_events', 'pagerduty_incidents']

/** A schema with `commit`'s views in place of this version's, commented and granted as that collector left them. */
export async function withOlderViews(sql: postgres.Sql, schema: string, commit: string): Promise<void> {
  const previous = ['20_pagerduty_incident_events.sql', '21_pagerduty_incidents.sql']
    .map((name) => readFileSync(path.join(ROOT, `test/fixtures/sql/views-${commit}`, name), 'utf8').replace(/\batomic\./g, `"${schema}".`))
  await migrate(sql, 'postgres', schema)
  await sql.unsafe(`drop view ${schema}.pagerduty_incidents; drop view ${schema}.pagerduty_incident_events`).simple()
  for (const [i, view] of VIEWS.entries()) {
    await sql.unsafe(previous[i] as string).simple()
    await sql.unsafe(`comment on view ${schema}.${view} is '${viewMarker(previous[i] as string)}'; grant select on ${schema}.${view} to public`).simple()
  }
}

/** The marker comment of each of the schema's views (which collector version's definition it is). */
export async function viewMarkers(sql: postgres.Sql, schema: string): Promise<Record<string, string | null>> {
  const rows = await sql.unsafe(`select c.relname, obj_description(c.oid, 'pg_class') as comment from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relkind = 'v' order by c.relname`, [schema])
  return Object.fromEntries(rows.map((r) => [String(r.relname), r.comment === null ? null : String(r.comment)]))
}
