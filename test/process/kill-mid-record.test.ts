/**
 * One webhook of more messages than BATCH_MAX_ROWS is written in several statements, each
 * committing on its own. SIGKILL between two of them: after the restart the record is loaded
 * again from the spool, and every message is in atomic.events and its table exactly once, its
 * bad message in atomic.bad_rows once.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { tally, untilLoaded, v1Body } from '../helpers/traffic.ts'
import { migrate } from '../../src/db/migrate.ts'

let db: TestDatabase
let dataDir: string
beforeAll(async () => {
  db = await freshDatabase('kill_mid_record')
  await migrate(db.sql, 'postgres', 'atomic')
  dataDir = tempDir('kill-mid-record')
}, 60_000)
afterAll(async () => {
  await db.drop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

const count = async (query: string): Promise<number> => Number((await db.sql.unsafe(query))[0]?.n ?? 0)

test('SIGKILL between two statements of one webhook over BATCH_MAX_ROWS: after the restart each message is loaded once', async () => {
  const env = { DATA_DIR: dataDir, DATABASE_URL: db.url, BATCH_MAX_ROWS: '50' }
  // Each statement that inserts events holds its commit for 200 ms: 8 statements for 400
  // messages, time enough to kill the process after the first commits and before the last.
  await db.sql.unsafe(`create function atomic.slow_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(0.2); return null; end $$`)
  await db.sql.unsafe(`create trigger slow_commit after insert on atomic.events for each statement execute function atomic.slow_commit()`)
  const ids = Array.from({ length: 400 }, (_, i) => `mid-record-${i}`)
  const body = JSON.parse(v1Body(ids)) as { messages: unknown[] }
  body.messages.push({ neither: 'type nor event' })

  const first = await spawnCollector(env)
  const res = await postJson(`${first.url}/com.pagerduty/v1`, JSON.stringify(body))
  expect(await res.json()).toEqual({ accepted: 400, bad: 1, pings: 0, version: 'v1' })
  const events = `select count(*)::int as n from atomic.events where v_tracker = 'com.pagerduty-v1'`
  await eventually(async () => (await count(events)) > 0, 20_000, 'the first statement to commit')
  first.proc.kill('SIGKILL')
  await first.proc.exited
  const atKill = await count(events)
  expect(atKill % 50).toBe(0)
  expect(atKill).toBeGreaterThan(0)
  expect(atKill).toBeLessThan(400)

  await db.sql.unsafe(`drop trigger slow_commit on atomic.events`)
  const second = await spawnCollector(env)
  try {
    expect(await untilLoaded(db.sql, new Set(ids), 'mid-record')).toEqual({ acked: 400, loaded: 400, lost: 0, duplicated: 0 })
    await eventually(async () => (await count(`select count(*)::int as n from atomic.bad_rows where reason = 'UNKNOWN_WEBHOOK_VERSION'`)) === 1, 10_000, 'the bad message')
    expect(await tally(db.sql, new Set(ids), 'mid-record')).toEqual({ acked: 400, loaded: 400, lost: 0, duplicated: 0 })
    expect(await count(`select count(*)::int as n from atomic.bad_rows`)).toBe(1)
  } finally {
    second.proc.kill('SIGTERM')
    expect(await second.proc.exited).toBe(0)
  }
}, 90_000)
