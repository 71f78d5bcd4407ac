/**
 * The PostgreSQL sink sends the collector's own jsonb columns as one JSON array per batch (no
 * text[] escaping), which needs every cell to be exactly one JSON value: every row must read
 * back its own value, SQL NULL as NULL; only the columns the adapters fill with JSON.stringify
 * go that way (a column a DBA retyped as jsonb does not); and a cell that is more than one
 * JSON value fails the batch as a data error (which the writer isolates) instead of shifting
 * the values of the rows after it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type postgres from 'postgres'
import { migrate } from '../../src/db/migrate.ts'
import type { BuiltEvent } from '../../src/events/event.ts'
import { isDataError } from '../../src/sink/classify.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { loadColumns } from '../../src/sink/introspect.ts'
import { createPostgresSink } from '../../src/sink/postgres.ts'
import { createTablePlans, JSON_TEXT_KEYS, planTable } from '../../src/sink/tables.ts'
import type { Sink } from '../../src/sink/batch.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { fixtureRecords, recordFor } from '../helpers/load.ts'

const INCIDENT = 'com_pagerduty_incident_1'

/** A v1 trigger with its own message id, and `assigned_to` set or absent (SQL NULL). */
function event(n: number, assigned: boolean): BuiltEvent {
  const body = JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')) as { messages: Record<string, any>[] }
  const message = body.messages[0] as Record<string, any>
  message.id = `jsonb-${n}`
  message.data.incident.assigned_to = assigned ? [{ at: `2026-03-01T12:00:0${n}Z`, object: { id: `P${n}`, note: 'say "hi"\n' } }] : null
  const [built] = recordFor(`jsonb-${n}`, JSON.stringify(body)).events
  return built as BuiltEvent
}

const incidentRow = (e: BuiltEvent): Record<string, unknown> => (e.rows.find((r) => r.table === INCIDENT) as { row: Record<string, unknown> }).row

describe('the JSON cells the adapters make', () => {
  test('are exactly the jsonb columns of the collector\'s DDL', () => {
    const dir = path.join(import.meta.dir, '..', '..', 'sql', 'postgres')
    const fromDdl: Record<string, string[]> = {}
    for (const file of fs.readdirSync(dir)) {
      const text = fs.readFileSync(path.join(dir, file), 'utf8')
      const table = /CREATE TABLE IF NOT EXISTS atomic\.(\w+)/.exec(text)?.[1]
      const columns = [...text.matchAll(/^\s+"?([\w.]+)"? jsonb\b/gm)].map((m) => m[1] as string)
      if (table && columns.length > 0) fromDdl[table] = columns
    }
    expect(Object.fromEntries(Object.entries(JSON_TEXT_KEYS).map(([t, keys]) => [t, [...keys].sort()]))).toEqual(Object.fromEntries(Object.entries(fromDdl).map(([t, keys]) => [t, keys.sort()])))
  })

  test('are one JSON value each, or NULL, in every fixture of every version', () => {
    let checked = 0
    for (const record of fixtureRecords()) {
      for (const e of record.events) {
        for (const { table, row } of e.rows) {
          for (const key of JSON_TEXT_KEYS[table] ?? []) {
            const cell = row[key]
            if (cell === null || cell === undefined) continue
            expect(typeof cell).toBe('string')
            expect(JSON.stringify(JSON.parse(cell as string))).toBe(cell as string)
            checked++
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(50)
  })

  test('a column a DBA retyped as jsonb is cast row by row, not sent as one JSON array', () => {
    const plan = planTable(INCIDENT, [
      { column: 'data.incident.status', dataType: 'jsonb', typeName: 'jsonb', maxLength: null },
      { column: 'raw_message', dataType: 'jsonb', typeName: 'jsonb', maxLength: null },
    ], ['data.incident.status', 'raw_message'])
    expect(plan.columns.map((c) => [c.key, c.json, c.jsonText])).toEqual([['data.incident.status', true, false], ['raw_message', true, true]])
  })
})

describe('jsonb columns in the PostgreSQL sink', () => {
  let db: TestDatabase
  let sink: Sink
  beforeAll(async () => {
    db = await freshDatabase('jsonb_columns')
    sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(db.sql, 'postgres', 'atomic') } })
  }, 60_000)
  afterAll(async () => { await db?.drop() })

  test('each row reads back its own JSON values, and NULL as NULL', async () => {
    const events = [event(1, true), event(2, false), event(3, true)]
    const result = await sink.write({ events, badRows: [] })
    expect(result.loaded).toBe(3)
    const rows = await db.sql.unsafe(`select root_id, raw_message, "data.incident.assigned_to" as assigned from atomic.${INCIDENT} order by "data.incident.id"`)
    const byRoot = new Map(rows.map((r) => [r.root_id, r]))
    for (const e of events) {
      const row = byRoot.get(e.eventId)
      const sent = incidentRow(e)
      expect(row?.raw_message).toEqual(JSON.parse(String(sent.raw_message)))
      expect(row?.assigned).toEqual(sent['data.incident.assigned_to'] === null ? null : JSON.parse(String(sent['data.incident.assigned_to'])))
    }
    expect(byRoot.get(events[1]!.eventId)?.assigned).toBeNull()
  })

  test('the entity rows join the inserted events by hash, at any work_mem: never a rescan per row', async () => {
    let text = ''
    let params: unknown[] = []
    const capture = { unsafe: async (t: string, p: unknown[]) => { text = t; params = p; return [] } } as unknown as postgres.Sql
    const plans = createTablePlans('atomic', await loadColumns(db.sql, 'atomic'))
    const events = Array.from({ length: 400 }, (_, n) => event(100 + n, n % 2 === 0))
    await createPostgresSink({ sql: capture, schema: 'atomic', plans }).write({ events, badRows: [] })
    const plan = await db.sql.begin(async (tx) => {
      await tx.unsafe(`set local work_mem = '64kB'`)
      const rows = await tx.unsafe(`explain (costs off) ${text}`, params as string[])
      return rows.map((r) => r['QUERY PLAN'] as string).join('\n')
    })
    expect(plan).not.toContain('SubPlan')
    expect(plan).toMatch(/Hash (Right |Left )?Join/)
  })

  test('a cell holding two JSON values fails the whole batch as a data error, loading nothing', async () => {
    const events = [event(4, true), event(5, true), event(6, true)]
    incidentRow(events[1]!)['data.incident.assigned_to'] = '{"a":1},{"b":2}'
    const error = await sink.write({ events, badRows: [] }).then(() => null, (e: unknown) => e)
    expect(error).not.toBeNull()
    expect(isDataError(error)).toBe(true)
    const [count] = await db.sql.unsafe(`select count(*)::int as n from atomic.events where event_id = any($1)`, [events.map((e) => e.eventId)])
    expect(count?.n).toBe(0)

    // Two cells that are not JSON alone merge into one element ('[1' and '2]'): the array is
    // shorter than the batch, which fails it too instead of shifting the values after them.
    const merged = [event(7, true), event(8, true), event(9, true)]
    incidentRow(merged[0]!)['data.incident.assigned_to'] = '[1'
    incidentRow(merged[1]!)['data.incident.assigned_to'] = '2]'
    const mergeError = await sink.write({ events: merged, badRows: [] }).then(() => null, (e: unknown) => e)
    expect(isDataError(mergeError)).toBe(true)
    expect(String((mergeError as Error).message)).toContain('shorter than its batch')
    const [none] = await db.sql.unsafe(`select count(*)::int as n from atomic.events where event_id = any($1)`, [merged.map((e) => e.eventId)])
    expect(none?.n).toBe(0)

    // Without it, the other two load with their own values (what the writer's split does).
    const result = await sink.write({ events: [events[0]!, events[2]!], badRows: [] })
    expect(result.loaded).toBe(2)
    const rows = await db.sql.unsafe(`select root_id, "data.incident.assigned_to" as assigned from atomic.${INCIDENT} where root_id = any($1)`, [[events[0]!.eventId, events[2]!.eventId]])
    for (const r of rows) {
      const e = events.find((x) => x.eventId === r.root_id) as BuiltEvent
      expect(r.assigned).toEqual(JSON.parse(String(incidentRow(e)['data.incident.assigned_to'])))
    }
  })
})
