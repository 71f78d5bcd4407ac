/**
 * `collector migrate` on the redshift dialect over an older deployment's views, through the
 * shim (test/helpers/redshift-shim.ts): Redshift's CREATE OR REPLACE VIEW takes only the very
 * same columns, so a view whose columns changed is dropped and created anew.
 */
import { expect, test } from 'bun:test'
import { migrate } from '../../src/db/migrate.ts'
import { shimDdl, shimmedRedshift } from '../helpers/redshift-shim.ts'

const shim = shimmedRedshift('rs_migrate')
const options = { transform: shimDdl }
const columns = async (view: string) => (await shim.db.sql.unsafe(`select column_name from information_schema.columns where table_schema = 'atomic' and table_name = $1 order by ordinal_position`, [view])).map((r) => String(r.column_name))

test('an older view with other columns is dropped and created anew in one transaction, with a warning about its grants; then replaced in place again', async () => {
  expect(await migrate(shim.rs, 'redshift', 'atomic', options)).toEqual([])
  const events = await columns('pagerduty_incident_events')
  // The columns added since the views' first version, last.
  expect([events.slice(-3), (await columns('pagerduty_incidents')).slice(-4)]).toEqual([
    ['incident_created_at', 'agent_type', 'resolve_reason'],
    ['created_at', 'acknowledged_by_type', 'resolved_by_type', 'resolve_reason'],
  ])
  // Another column type, which PostgreSQL (under the shim) refuses to replace as Redshift refuses
  // any change of columns (an added one too); no incidents view over it, as on Redshift, where
  // a late-binding view keeps no other view from being dropped.
  await shim.db.sql.unsafe(`drop view atomic.pagerduty_incidents; drop view atomic.pagerduty_incident_events;
    create view atomic.pagerduty_incident_events as select 'older'::text as event_id`).simple()
  expect(await migrate(shim.rs, 'redshift', 'atomic', options)).toEqual([
    'view from 20_pagerduty_incident_events.sql created anew: "atomic"."pagerduty_incident_events" had other columns (an older collector\'s), and Redshift replaces a view in place only with the same columns; grants on it that no ALTER DEFAULT PRIVILEGES gives back must be given again',
  ])
  expect(await columns('pagerduty_incident_events')).toEqual(events)
  expect((await columns('pagerduty_incidents')).at(-1)).toBe('resolve_reason')
  expect(await migrate(shim.rs, 'redshift', 'atomic', options)).toEqual([])
  expect(shim.log.violations()).toEqual([])
})
