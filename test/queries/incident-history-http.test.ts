/**
 * The incident life cycles of test/helpers/incident-scenarios.ts posted to the real HTTP
 * server, as PagerDuty delivers them: each once, then each again in reverse order (PagerDuty
 * resends a delivery whose 2xx it did not see, for up to 48 hours, after later ones if need
 * be), with the X-Webhook-Id a retry repeats. What analysts read must be what the same
 * deliveries give once and in order (test/queries/incident-life-cycles.test.ts).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import type { Collector } from '../../src/app.ts'
import { migrate } from '../../src/db/migrate.ts'
import { eventually, postJson, ROOT, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { DELIVERIES, FIGURES, INCIDENTS, SCENARIO_QUERY } from '../helpers/incident-scenarios.ts'

const QUERY = fs.readFileSync(path.join(ROOT, 'sql/queries/mtta_mttr.sql'), 'utf8')
const plain = (rows: readonly object[]) => rows.map((r): Record<string, unknown> => ({ ...r }))

let db: TestDatabase
let collector: Collector
const statuses: number[] = []

beforeAll(async () => {
  db = await freshDatabase('history_http')
  await migrate(db.sql, 'postgres', 'atomic')
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('history-http') })
  const post = async ([name, body, ctx]: (typeof DELIVERIES)[number]) => {
    const url = new URL(`/com.pagerduty/v1?aid=${encodeURIComponent(ctx.query.aid ?? '')}`, collector.url).href
    statuses.push((await postJson(url, body, { 'x-webhook-id': `delivery-${name}` })).status)
  }
  for (const delivery of DELIVERIES) await post(delivery)
  for (const delivery of [...DELIVERIES].reverse()) await post(delivery)
  // Drained = the spool's checkpoint at its end (as test/queries/mtta-mttr.test.ts).
  await eventually(() => collector.spool.stats().backlogBytes === 0, 30_000, 'spool drained')
}, 120_000)

afterAll(async () => {
  await collector?.stop()
  await db?.drop()
}, 30_000)

test('every delivery and every retry of it is accepted', () => {
  expect(statuses).toEqual(DELIVERIES.flatMap(() => [202, 202]))
})

test('a retried delivery loads once: the events are those of one pass', async () => {
  const [{ n }] = (await db.sql`select count(*)::int as n from atomic.events`) as unknown as [{ n: number }]
  expect(n).toBe(INCIDENTS.reduce((sum, r) => sum + Number(r.events), 0))
})

test('pagerduty_incidents, posted twice and the second time backwards, is as loaded once in order', async () => {
  expect(plain(await db.sql.unsafe(SCENARIO_QUERY))).toEqual(INCIDENTS)
})

test('MTTA and MTTR per service, posted twice and the second time backwards, are as loaded once in order', async () => {
  expect(plain(await db.sql.unsafe(QUERY))).toEqual(FIGURES)
})
