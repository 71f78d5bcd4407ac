/**
 * postgres.js 3.4.9 counts the rows of a result in a variable that only CommandComplete
 * resets: after a statement that fails part way through sending its rows (a division by zero
 * in a later row, a statement_timeout while rows stream), the next result on that connection
 * starts with as many empty slots. The writer's statement answers with one row per webhook
 * version; read with those holes it threw after its batch had committed (the counts were
 * lost, the database called down, the retry counted every event a duplicate). The rows
 * themselves are all there, after the holes.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { connect } from '../../src/db/connect.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { recordFor } from '../helpers/load.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('result_holes') }, 60_000)
afterAll(async () => { await db?.drop() })

test('a batch written, or a migration run, on a connection whose previous statement failed mid-result reads its answer whole', async () => {
  const sql = connect({ url: db.url, dialect: 'postgres', max: 1 })
  try {
    const sink = createLazySink({ sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(sql, 'postgres', 'atomic') } })
    const first = recordFor('holes-1', readFixture('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json'))
    expect(await sink.write({ events: first.events, badRows: [] })).toMatchObject({ loaded: 1 })
    // Two rows sent, then the error: the library's row counter stays at 2.
    expect(await sql.unsafe('select 1 / (3 - g) as x from generate_series(1, 5) g').then(() => 'no error', (e: Error) => e.message)).toBe('division by zero')
    const second = recordFor('holes-2', readFixture('v3', 'incident.resolved__rudder-transformer-incident_resolved_0.json'))
    expect(await sink.write({ events: second.events, badRows: [] })).toMatchObject({ loaded: 1, duplicates: 0, loadedByVersion: { v3: 1 } })
    expect((await db.sql.unsafe('select count(*)::int as n from atomic.events'))[0]?.n).toBe(2)
    // The migration at start reads the catalogs the same way (it threw: 'r.relname').
    await sql.unsafe('select 1 / (3 - g) as x from generate_series(1, 5) g').catch(() => {})
    expect(await migrate(sql, 'postgres', 'atomic')).toEqual([])
  } finally {
    await sql.end({ timeout: 1 })
  }
}, 60_000)
