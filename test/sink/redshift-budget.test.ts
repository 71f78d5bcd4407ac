/**
 * The statement budget: Redshift takes at most 16 MB and 32,767 bind parameters per
 * statement, whatever BATCH_MAX_ROWS lets into one transaction. A 10,000-event batch of
 * ~50 KB messages (about 500 MB) is cut into statements that fit, and loads once.
 */
import { describe, expect, test } from 'bun:test'
import { migrate } from '../../src/db/migrate.ts'
import type { BuiltEvent, Row } from '../../src/events/event.ts'
import { uuidV5 } from '../../src/events/event-id.ts'
import { fitStatements, REDSHIFT_BUDGET } from '../../src/sink/budget.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { recordFor } from '../helpers/load.ts'
import { shimDdl, shimmedRedshift } from '../helpers/redshift-shim.ts'

describe('fitStatements', () => {
  const budget = { maxParameters: 10, maxBytes: 100 }
  test.each([
    ['rows within both limits share one statement', [['a', 'b'], ['c', 'd']], [2]],
    ['the parameter limit starts a new statement', Array.from({ length: 7 }, () => ['a', 'b']), [5, 2]],
    ['the byte limit starts a new statement', [['x'.repeat(40)], ['y'.repeat(40)], ['z'.repeat(40)]], [1, 1, 1]],
    ['a row over the byte limit alone still gets a statement', [['x'.repeat(500)], ['a']], [1, 1]],
  ])('%s', (_name, rows, sizes) => {
    const parts = fitStatements(rows, 4, 10, budget)
    expect(parts.map((p) => p.length)).toEqual(sizes)
    expect(parts.flat()).toEqual(rows)
  })

  test('counts UTF-8 bytes, not characters', () => {
    // 30 euro signs are 30 characters but 90 bytes: two of them do not fit in 100.
    expect(fitStatements([['€'.repeat(30)], ['€'.repeat(30)]], 0, 0, budget).map((p) => p.length)).toEqual([1, 1])
  })
})

const EVENTS = 10_000
const MESSAGE_BYTES = 50_000

/** 10,000 distinct v1 events built by the adapter from one fixture padded to ~50 KB. */
function largeBatch(): BuiltEvent[] {
  const body = JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')) as { messages: Record<string, any>[] }
  const message = body.messages[0] as Record<string, any>
  message.data.incident.trigger_summary_data.description = 'é'.repeat(MESSAGE_BYTES / 2)
  const template = recordFor('budget', JSON.stringify(body)).events[0] as BuiltEvent
  return Array.from({ length: EVENTS }, (_, i) => {
    const eventId = uuidV5(`budget/${i}`)
    return {
      eventId,
      rows: template.rows.map(({ table, row }): { table: string; row: Row } => ({
        table,
        row: table === 'events' ? { ...row, event_id: eventId } : { ...row, root_id: eventId, id: `budget-${i}` },
      })),
    }
  })
}

const shim = shimmedRedshift('redshift_budget')
const log = shim.log

describe('a 10,000-event batch of 50 KB messages in the redshift dialect', () => {
  const sink = () => createLazySink({ sql: shim.rs, dialect: 'redshift', schema: 'atomic', migrate: async () => { await migrate(shim.rs, 'redshift', 'atomic', { transform: shimDdl }) } })
  const events = largeBatch()
  const count = async (query: string): Promise<number> => Number(((await shim.db.sql.unsafe(query)) as unknown as [{ n: string }])[0].n)

  test('is split into statements under 16 MB and 32,767 parameters, and loads', async () => {
    expect(JSON.parse(String(events[0]?.rows[1]?.row.raw_message)).data.incident.trigger_summary_data.description.length).toBe(MESSAGE_BYTES / 2)
    const result = await sink().write({ events, badRows: [] })
    expect(result).toEqual({ loaded: EVENTS, duplicates: 0, badRows: 0, loadedByVersion: { v1: EVENTS } })
    const inserts = log.statements.filter((s) => s.text.startsWith('INSERT INTO "atomic"."com_pagerduty_incident_1"'))
    // ~500 MB of messages over a 15 MiB budget: at least 32 statements.
    expect(inserts.length).toBeGreaterThanOrEqual(32)
    expect(Math.max(...log.statements.map((s) => s.bytes))).toBeLessThan(REDSHIFT_BUDGET.maxBytes)
    expect(Math.max(...log.statements.map((s) => s.parameters))).toBeLessThanOrEqual(32_767)
    expect(log.violations()).toEqual([])
    expect(await count('select count(*) as n from atomic.events')).toBe(EVENTS)
    expect(await count('select count(distinct root_id) as n from atomic.com_pagerduty_incident_1')).toBe(EVENTS)
    // The column holds 127 two-byte characters (254 of its 255 bytes); the message holds all.
    expect(await count(`select count(*) as n from atomic.com_pagerduty_incident_1
      where octet_length("data.incident.trigger_summary_data.description") = 254
        and length(raw_message->'data'->'incident'->'trigger_summary_data'->>'description') = ${MESSAGE_BYTES / 2}`)).toBe(EVENTS)
  }, 300_000)

  test('loads once when the same batch comes again', async () => {
    // A live table has planner statistics (autovacuum here, automatic analyze on Redshift);
    // without them PostgreSQL nests loops over the 10,000 x 10,000 ids (9 s instead of 0.5 s).
    await shim.db.sql.unsafe('analyze atomic.events')
    const started = performance.now()
    const result = await sink().write({ events, badRows: [] })
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(result).toEqual({ loaded: 0, duplicates: EVENTS, badRows: 0, loadedByVersion: {} })
    expect(await count('select count(*) as n from atomic.com_pagerduty_incident_1')).toBe(EVENTS)
    expect(await count('select count(*) as n from atomic.events')).toBe(EVENTS)
  }, 300_000)
})
