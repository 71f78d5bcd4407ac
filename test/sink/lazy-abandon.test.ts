/**
 * `abandon` (a write timed out) cancels every statement the lazy sink has in flight, also one
 * running on a dialect sink that was replaced meanwhile because another write found the
 * tables changed. Before, only the newest dialect sink's statements were cancelled, and the
 * older one kept its session waiting, and the rows it had inserted so far locked.
 * Needs a server: the blocked write waits on a lock another session holds.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import postgres from 'postgres'
import { createPagerDutyAdapter } from '../../src/adapters/pagerduty/index.ts'
import type { AdapterResult } from '../../src/adapters/types.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { freshDatabase, hasServer, type TestDatabase } from '../helpers/database.ts'
import { fixtureJson } from '../helpers/fixtures.ts'

let db: TestDatabase | null = null
let blocker: postgres.Sql | null = null
afterAll(async () => {
  await blocker?.end({ timeout: 1 })
  await db?.drop()
})

const adapter = createPagerDutyAdapter('test')
const build = (body: unknown): AdapterResult & { ok: true } => {
  const r = adapter.toEvents({ body, rawBody: JSON.stringify(body), ctx: { receivedAt: new Date('2026-03-01T12:00:00Z'), query: { aid: 'abandon' }, ipAddress: null, userAgent: null, webhookId: null, requestId: crypto.randomUUID() } })
  if (!r.ok) throw new Error(r.message)
  return r
}

describe.skipIf(!hasServer())('abandoning the lazy sink', () => {
  test('cancels a statement still running on a dialect sink replaced after a schema error', async () => {
    db = await freshDatabase('lazy_abandon')
    const schema = 'la'
    await migrate(db.sql, 'postgres', schema)
    const sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db!.sql, 'postgres', schema) } })
    await sink.prepare?.()

    // Another session holds a lock the event's insert waits on.
    blocker = postgres(db.url, { max: 1, onnotice: () => {} })
    const held = await blocker.reserve()
    await held`begin`
    await held.unsafe(`lock table ${schema}.com_pagerduty_incident_1 in share mode`)
    const body = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
    const event = build({ messages: [{ ...body.messages[0], id: 'blocked' }] })
    const blocked = sink.write({ events: event.events, badRows: [] }).then(() => 'loaded', (error: unknown) => `failed: ${(error as { code?: string }).code ?? String(error)}`)
    const waiting = async () => (await db!.sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`)[0]?.n as number
    for (let i = 0; i < 200 && (await waiting()) === 0; i++) await Bun.sleep(25)
    expect(await waiting()).toBe(1)

    // Meanwhile a bad row finds a column gone: the dialect sink is replaced.
    await db.sql.unsafe(`alter table ${schema}.bad_rows drop column detail`)
    const bad = build({ messages: [{ unknown: true }] })
    expect(bad.badRows).toHaveLength(1)
    expect(await sink.write({ events: [], badRows: bad.badRows }).then(() => null, (error: unknown) => (error as { code?: string }).code)).toBe('42703')
    await sink.prepare?.()

    sink.abandon?.()
    const outcome = await Promise.race([blocked, Bun.sleep(5000).then(() => 'still waiting')])
    await held`rollback`
    held.release()
    // 57014: canceled by the CancelRequest.
    expect(outcome).toBe('failed: 57014')
    expect(await waiting()).toBe(0)
  })
})
