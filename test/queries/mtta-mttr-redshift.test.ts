/**
 * sql/queries/mtta_mttr.redshift.sql over the Redshift view: the life cycle of
 * test/helpers/incident-life-cycle.ts loaded through the redshift dialect into the Redshift
 * DDL on PostgreSQL with the shim (test/helpers/redshift-shim.ts), the query sent on the
 * dialect's own connection so its statement log covers it; the figures are the same exact ones
 * the PostgreSQL query gives (test/queries/mtta-mttr.test.ts).
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from '../helpers/collector.ts'
import { FIGURES, INCIDENTS, INCIDENTS_QUERY, lifeCycleDeliveries } from '../helpers/incident-life-cycle.ts'
import { drain, recordFor } from '../helpers/load.ts'
import { shimDdl, shimmedRedshift } from '../helpers/redshift-shim.ts'

const QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.redshift.sql'), 'utf8')
const shim = shimmedRedshift('mtta_redshift')
const log = shim.log

test('MTTA and MTTR per service on Redshift: the same figures as on PostgreSQL, from a redshift-dialect load', async () => {
  const deliveries = lifeCycleDeliveries()
  const status = await drain(deliveries.map(([name, body]) => recordFor(name, body)), { sql: shim.rs, dialect: 'redshift', migrateOptions: { transform: shimDdl } })
  expect(status.loadedEvents).toBe(deliveries.length)
  const rows = await shim.rs.unsafe(QUERY)
  expect(rows.map((r): Record<string, unknown> => ({ ...r }))).toEqual(FIGURES)
  // The incidents view, the same query as PostgreSQL's: the same rows.
  const incidents = await shim.rs.unsafe(INCIDENTS_QUERY())
  expect(incidents.map((r): Record<string, unknown> => ({ ...r }))).toEqual(INCIDENTS)
  expect(log.violations()).toEqual([])
}, 60_000)

/** The EXTRACT(EPOCH FROM ...) calls whose source is not `<column> AT TIME ZONE 'UTC'`. */
const integerEpochs = (sql: string): string[] =>
  [...sql.replace(/--[^\n]*/g, '').matchAll(/EXTRACT\s*\(\s*EPOCH\s+FROM\s+([^()]*)\)/gi)].map((m) => (m[1] as string).trim()).filter((source) => !/^\w+ AT TIME ZONE 'UTC'$/i.test(source))

test('reads every epoch from a TIMESTAMPTZ, where Redshift\'s EXTRACT keeps fractions (of a TIMESTAMP or INTERVAL it is an INTEGER)', () => {
  expect(integerEpochs(QUERY)).toEqual([])
  // The PostgreSQL query takes it from an interval: right there, milliseconds lost on Redshift.
  expect(integerEpochs(fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.sql'), 'utf8'))).toEqual(['acknowledged_at - started_at', 'resolved_at - started_at'])
})
