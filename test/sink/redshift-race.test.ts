/**
 * Two transactions loading the same event at once in the redshift dialect: two collectors
 * behind a load balancer, or one collector's two batches in flight, after PagerDuty retried a
 * delivery. Redshift's default isolation for new clusters (and Serverless's) is snapshot
 * isolation, emulated here by PostgreSQL's REPEATABLE READ: without the sink's LOCK both
 * transactions found the event new and both inserted it. Also: an event whose JSON is longer
 * than JSON_PARSE reads goes to bad rows, and what loads is counted by webhook version.
 */
import { describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import { connect } from '../../src/db/connect.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { hasServer } from '../helpers/database.ts'
import { drain, recordFor } from '../helpers/load.ts'
import { shimDdl, shimmedRedshift } from '../helpers/redshift-shim.ts'

const shim = shimmedRedshift('redshift_race')
const V3 = readFixture('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json')
const count = async (query: string): Promise<number> => Number(((await shim.db.sql.unsafe(query)) as unknown as [{ n: string }])[0].n)

describe('the redshift dialect under snapshot isolation', () => {
  // Two connections at once: PGlite serves one session, so this needs a PostgreSQL server.
  test.skipIf(!hasServer())('two transactions loading the same event at once load it once', async () => {
    await migrate(shim.rs, 'redshift', 'atomic', { transform: shimDdl })
    const name = new URL(shim.db.url).pathname.slice(1)
    await shim.db.sql.unsafe(`alter database "${name}" set default_transaction_isolation = 'repeatable read'`)
    const connections: postgres.Sql[] = [0, 1].map(() => connect({ url: shim.db.url, dialect: 'redshift', max: 1, overrides: { ssl: false } }))
    try {
      const [a, b] = connections.map((sql) => createLazySink({ sql, dialect: 'redshift', schema: 'atomic', migrate: async () => {} }))
      // Both sinks plan their tables first, so the two loads below start together.
      const warm = recordFor('warm', readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json'))
      await a!.write({ events: warm.events, badRows: [] })
      await b!.write({ events: warm.events, badRows: [] })
      expect(String((await connections[0]!.unsafe('show transaction_isolation'))[0]?.transaction_isolation)).toBe('repeatable read')
      for (let round = 0; round < 5; round++) {
        const record = recordFor(`race-${round}`, V3.replace('01DEN0V2VIFEN5871PQGX72URP', `RACE-${round}`))
        const results = await Promise.all([a!.write(record), b!.write(record)])
        expect(results.map((r) => r.loaded).sort()).toEqual([0, 1])
        expect(results.map((r) => r.loadedByVersion ?? {}).sort((x, y) => Object.keys(x).length - Object.keys(y).length)).toEqual([{}, { v3: 1 }])
        expect(await count(`select count(*) as n from atomic.com_pagerduty_webhook_v3_event_1 where id = 'RACE-${round}'`)).toBe(1)
        expect(await count(`select count(*) as n from atomic.bad_rows`)).toBe(0)
      }
      expect(await count(`select count(*) as n from atomic.events where v_tracker = 'com.pagerduty-v3'`)).toBe(5)
    } finally {
      await Promise.all(connections.map((sql) => sql.end({ timeout: 1 })))
    }
  }, 30_000)

  test.skipIf(!hasServer())('a login that may not LOCK the bad rows table (SELECT, INSERT, TEMP only) loads, unserialised, with a warning', async () => {
    await migrate(shim.rs, 'redshift', 'atomic', { transform: shimDdl })
    const role = `t_rs_writer_${process.pid}`
    const name = new URL(shim.db.url).pathname.slice(1)
    await shim.db.sql.unsafe(`create role ${role} login; grant usage on schema atomic, redshift_shim to ${role};
      grant select, insert on all tables in schema atomic to ${role}; grant temp on database "${name}" to ${role}`).simple()
    const url = new URL(shim.db.url)
    url.username = role
    const sql = connect({ url: url.href, dialect: 'redshift', max: 1, overrides: { ssl: false } })
    const refusals: unknown[] = []
    try {
      const sink = createLazySink({ sql, dialect: 'redshift', schema: 'atomic', migrate: async () => { await migrate(sql, 'redshift', 'atomic', { transform: shimDdl }) }, onCannotSerialise: (e) => refusals.push(e) })
      const record = recordFor('no-lock', V3.replace('01DEN0V2VIFEN5871PQGX72URP', 'NO-LOCK-1'))
      expect(await sink.write(record)).toMatchObject({ loaded: 1 })
      expect(refusals.map((e) => (e as { code?: string }).code)).toEqual(['42501'])
    } finally {
      await sql.end({ timeout: 1 })
      await shim.db.sql.unsafe(`drop owned by ${role}; drop role ${role}`).simple()
    }
  }, 30_000)

  test('an event whose JSON is longer than JSON_PARSE reads goes to bad rows; the others of its batch load', async () => {
    const big = JSON.parse(V3) as { event: { id: string; data: Record<string, unknown> } }
    big.event.id = 'TOO-BIG'
    big.event.data.description = 'x'.repeat(70_000)
    const records = [recordFor('ok-1', V3.replace('01DEN0V2VIFEN5871PQGX72URP', 'FITS-1')), recordFor('too-big', JSON.stringify(big)), recordFor('ok-2', V3.replace('01DEN0V2VIFEN5871PQGX72URP', 'FITS-2'))]
    const status = await drain(records, { sql: shim.rs, dialect: 'redshift', schema: 'rs_wide', maxRows: 10, migrateOptions: { transform: shimDdl } })
    expect({ loaded: status.loadedEvents, rejected: status.rejectedEvents }).toEqual({ loaded: 2, rejected: 1 })
    const rows = await shim.db.sql.unsafe(`select reason, detail from rs_wide.bad_rows`)
    expect(rows.map((r) => [r.reason, (JSON.parse(String(r.detail)) as { message: string }[])[0]?.message])).toEqual([
      ['DATABASE_REJECTED', 'com_pagerduty_webhook_v3_event_1.data: a JSON value of 71234 bytes; Redshift\'s JSON_PARSE reads at most 65535'],
    ])
  }, 30_000)
})
