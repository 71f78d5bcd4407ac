/**
 * The writer's bad-row count (`collector_bad_rows_loaded_total`, "rows inserted into the bad
 * rows table") counts rows inserted, not rows sent: a spool replayed after a crash, whose bad
 * rows are already in the table, inserts none and counts none.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import type { Dialect } from '../../src/config.ts'
import { connect } from '../../src/db/connect.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { drain, recordFor } from '../helpers/load.ts'
import { installShim, shimDdl } from '../helpers/redshift-shim.ts'
import { v1Body } from '../helpers/traffic.ts'

/** One good message and one of a type with no schema: one event, one bad row. */
const record = () => recordFor('bad-row-count', v1Body(['good-1', 'bad-1'], (m) => { if (m.id === 'bad-1') m.type = 'incident.no_such_type' }))

describe.each(['postgres', 'redshift'] as Dialect[])('the %s dialect', (dialect) => {
  let db: TestDatabase
  let sql: postgres.Sql
  const load = () => drain([record()], { sql, dialect, migrateOptions: { transform: dialect === 'redshift' ? shimDdl : (t) => t } })

  beforeAll(async () => {
    db = await freshDatabase(`bad_row_count_${dialect}`)
    if (dialect === 'redshift') await installShim(db.sql)
    sql = connect({ url: db.url, dialect, max: 1, overrides: { ssl: false } })
  }, 60_000)

  afterAll(async () => {
    await sql?.end({ timeout: 1 })
    await db?.drop()
  })

  test('a replay of a record whose bad row is loaded counts it as neither loaded nor a bad row', async () => {
    const first = await load()
    expect({ loaded: first.loadedEvents, duplicates: first.duplicateEvents, badRows: first.badRows }).toEqual({ loaded: 1, duplicates: 0, badRows: 1 })
    const replay = await load()
    expect({ loaded: replay.loadedEvents, duplicates: replay.duplicateEvents, badRows: replay.badRows }).toEqual({ loaded: 0, duplicates: 1, badRows: 0 })
    expect(Number((await db.sql`select count(*)::int as n from atomic.bad_rows`)[0]?.n)).toBe(1)
  }, 60_000)
})
