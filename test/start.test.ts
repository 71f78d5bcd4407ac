/**
 * At start, before any webhook: the tables are created (DESIGN.md: "applied by `collector
 * migrate` and at start when missing"), and a database that cannot be reached shows in
 * /ready at once instead of at the first delivery.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import type { Collector } from '../src/app.ts'
import { eventually, startInProcess } from './helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from './helpers/database.ts'

let db: TestDatabase
const dirs: string[] = []
const started: Collector[] = []
beforeAll(async () => { db = await freshDatabase('start') })
afterAll(async () => {
  for (const c of started) await c.stop()
  await db.drop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

async function start(env: Record<string, string>): Promise<Collector> {
  const dir = tempDir('start')
  dirs.push(dir)
  const c = await startInProcess({ DATA_DIR: dir, ...env })
  started.push(c)
  return c
}

const database = (c: Collector) => (c.ready().body as { database: { state: string; last_error: string | null } }).database

test('the tables and the views exist, and the database shows up, before the first webhook', async () => {
  const c = await start({ DATABASE_URL: db.url })
  await eventually(() => database(c).state === 'up', 20_000, 'the database to be up')
  const rows = await db.sql`select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'atomic' and c.relkind in ('r', 'v') order by 1`
  expect(rows.map((r) => r.relname)).toEqual(['bad_rows', 'com_pagerduty_incident_1', 'com_pagerduty_webhook_v2_message_1', 'com_pagerduty_webhook_v3_event_1', 'events', 'pagerduty_incident_events', 'pagerduty_incidents'])
})

test('a database that cannot be reached is down in /ready, with its error, before the first webhook', async () => {
  const c = await start({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' })
  await eventually(() => database(c).state === 'down', 20_000, 'the database to show down')
  expect(database(c).last_error).toContain('ECONNREFUSED')
  expect(c.ready().ready).toBe(true) // webhooks are still taken into the spool
})

test.each([['::1', 'http://[::1]:'], ['::', 'http://[::1]:'], ['0.0.0.0', 'http://127.0.0.1:']])('HOST=%s: the collector starts and names the URL it answers on', async (host, prefix) => {
  const c = await start({ DATABASE_URL: db.url, HOST: host, PORT: '0' })
  expect(c.url.href.startsWith(prefix)).toBe(true)
  expect((await fetch(new URL('/health', c.url))).status).toBe(200)
})

test('a start that cannot listen closes what it opened: the embedded database and its socket, and DATA_DIR is free for the next start', async () => {
  const taken = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const dir = tempDir('start-listen')
  dirs.push(dir)
  try {
    await expect(startInProcess({ DATA_DIR: dir, PORT: String(taken.port) })).rejects.toThrow(`cannot listen on 127.0.0.1:${taken.port}`)
    expect(fs.existsSync(`${dir}/socket`)).toBe(false)
  } finally {
    taken.stop(true)
  }
  // The DATA_DIR lock and PGlite were let go: the same DATA_DIR starts.
  const c = await startInProcess({ DATA_DIR: dir })
  started.push(c)
  expect(c.ready().ready).toBe(true)
}, 60_000)
