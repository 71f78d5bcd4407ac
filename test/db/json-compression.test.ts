/**
 * sql/postgres/10_json_compression.sql: the shredded tables' JSON columns compressed with LZ4
 * where the server has it, set only on empty tables whose columns have no method of their
 * own. Against TEST_DATABASE_URL's server, else embedded PGlite (which may lack lz4: then
 * nothing changes and migrating still succeeds).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../src/db/migrate.ts'
import { freshDatabase, hasServer, type TestDatabase } from '../helpers/database.ts'

let db: TestDatabase
let lz4 = false
beforeAll(async () => {
  db = await freshDatabase('json_compression')
  const [row] = await db.sql`select exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any (enumvals)) as lz4`
  lz4 = Boolean(row?.lz4)
})
afterAll(async () => { await db.drop() })

const TABLES = ['com_pagerduty_incident_1', 'com_pagerduty_webhook_v2_message_1', 'com_pagerduty_webhook_v3_event_1']

/** One v3 row with its required columns and the given raw_message. */
const insertV3 = (schema: string, rootId: string, message = '{}') => db.sql.unsafe(`insert into ${schema}.com_pagerduty_webhook_v3_event_1
    (schema_vendor, schema_name, schema_format, schema_version, root_id, root_tstamp, ref_root, ref_tree, ref_parent, id, event_type, data, raw_message)
  values ('com.pagerduty', 'webhook_v3_event', 'jsonschema', '1-0-0', $1::text, now(), 'events', '["events"]', 'events', $1::text, 'incident.triggered', '{}', $2::jsonb)`, [rootId, message])

/** Compression method per JSON column of the shredded tables: 'l' lz4, 'p' pglz, '' the default. */
async function methods(schema: string): Promise<Record<string, string>> {
  const rows = await db.sql`
    select c.relname, a.attname, a.attcompression::text as method from pg_attribute a
    join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = ${schema} and a.atttypid = 'jsonb'::regtype and not a.attisdropped order by 1, 2`
  return Object.fromEntries(rows.map((r) => [`${r.relname}.${r.attname}`, r.method as string]))
}

describe('JSON column compression', () => {
  test('new tables get lz4 on every JSON column where the server has it, nothing else where it does not', async () => {
    await migrate(db.sql, 'postgres', 'fresh')
    const got = await methods('fresh')
    expect(Object.keys(got).map((k) => k.split('.')[0])).toEqual(expect.arrayContaining(TABLES))
    expect(Object.keys(got).filter((k) => k.endsWith('.raw_message')).length).toBe(3)
    expect(new Set(Object.values(got))).toEqual(new Set([lz4 ? 'l' : '']))
  })

  test('a table with rows, or a column a DBA has set, is left as it is; migrating again changes nothing', async () => {
    await migrate(db.sql, 'postgres', 'used')
    // As a table created before this file existed: default methods, and one of them in use.
    for (const t of TABLES) await db.sql.unsafe(`alter table used.${t} alter column raw_message set compression default`)
    await insertV3('used', '00000000-0000-5000-8000-000000000000')
    await db.sql.unsafe(`alter table used.com_pagerduty_webhook_v2_message_1 alter column raw_message set compression pglz`)
    await migrate(db.sql, 'postgres', 'used')
    const got = await methods('used')
    expect(got['com_pagerduty_webhook_v3_event_1.raw_message']).toBe('') // has a row
    expect(got['com_pagerduty_webhook_v2_message_1.raw_message']).toBe('p') // set by hand
    expect(got['com_pagerduty_incident_1.raw_message']).toBe(lz4 ? 'l' : '') // still empty
    await migrate(db.sql, 'postgres', 'used')
    expect(await methods('used')).toEqual(got)
  })

  // Two sessions on one database: a PostgreSQL server (PGlite serves one).
  test.skipIf(!hasServer())('an empty table an open transaction has read (through the view) holds up a start 5 s at most; the next start switches it', async () => {
    await migrate(db.sql, 'postgres', 'held')
    // As tables created before this file existed, still empty (only v3 webhooks arrive, say).
    for (const t of TABLES) await db.sql.unsafe(`alter table held.${t} alter column raw_message set compression default`)
    const reader = await db.sql.reserve()
    try {
      await reader`begin`
      await reader.unsafe('select * from held.pagerduty_incident_events limit 1')
      const started = performance.now()
      // Unbounded, this waited for the reader's commit below (never), and every new reader of
      // the view queued behind it.
      expect(await migrate(db.sql, 'postgres', 'held')).toEqual([])
      expect(performance.now() - started).toBeLessThan(10_000)
      if (lz4) expect((await methods('held'))['com_pagerduty_incident_1.raw_message']).toBe('')
      await reader`commit`
    } finally {
      reader.release()
    }
    await migrate(db.sql, 'postgres', 'held')
    expect(new Set(Object.values(await methods('held')))).toEqual(new Set([lz4 ? 'l' : '']))
  }, 60_000)

  test('a value stored under either method reads back the same', async () => {
    await migrate(db.sql, 'postgres', 'mixed')
    const message = JSON.stringify({ id: 'x', text: 'incident '.repeat(400) }) // large enough to be compressed
    await insertV3('mixed', '00000000-0000-5000-8000-000000000001', message)
    await db.sql.unsafe(`alter table mixed.com_pagerduty_webhook_v3_event_1 alter column raw_message set compression pglz`)
    await insertV3('mixed', '00000000-0000-5000-8000-000000000002', message)
    const rows = await db.sql.unsafe(`select root_id, raw_message::text as m, pg_column_compression(raw_message) as method from mixed.com_pagerduty_webhook_v3_event_1 order by root_id`)
    expect(rows.map((r) => [r.method, JSON.parse(r.m as string)])).toEqual([[lz4 ? 'lz4' : 'pglz', JSON.parse(message)], ['pglz', JSON.parse(message)]])
  })
})
