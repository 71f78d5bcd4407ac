/**
 * An upgrade from the previous release, with the real process: its spool, frozen as it left it
 * with a backlog (test/fixtures/spool/f17918c-backlog/, a checkpoint.json without the crc this
 * version writes, sealed segments with their count files, records of every webhook version and
 * a rejected request), and its views in the database. The current collector loads exactly the
 * backlog, once, and calls nothing damaged or lost.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { BUN, ROOT, eventually, spawnCollector } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { viewMarkers, withOlderViews } from '../helpers/older-views.ts'
import { ddlFor, viewMarker } from '../../src/db/migrate.ts'
import { checkpointPath, parseCheckpoint } from '../../src/spool/checkpoint.ts'

const FROZEN = path.join(ROOT, 'test/fixtures/spool/f17918c-backlog')

let db: TestDatabase
const dirs: string[] = []
beforeAll(async () => { db = await freshDatabase('upgrade_spool') }, 60_000)
afterAll(async () => {
  await db.drop()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
}, 30_000)

/** `collector spool status`'s lines, by their label. */
function spoolStatus(dataDir: string): Record<string, string> {
  const run = Bun.spawnSync([BUN, path.join(ROOT, 'src/main.ts'), 'spool', 'status'], { env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir } })
  expect(run.exitCode).toBe(0)
  return Object.fromEntries(run.stdout.toString().trim().split('\n').map((line) => [line.slice(0, 26).trim(), line.slice(27)]))
}

const metric = (text: string, name: string): number => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])

test('the previous release\'s spool with a backlog and its views: the backlog loads once (what its checkpoint passed does not), the views are replaced, nothing is called damaged or lost', async () => {
  const dataDir = tempDir('upgrade-f17918c')
  dirs.push(dataDir)
  fs.cpSync(FROZEN, path.join(dataDir, 'spool'), { recursive: true, filter: (from) => !from.endsWith('README.md') })
  await withOlderViews(db.sql, 'atomic', '37ec6ed') // f17918c's views are 37ec6ed's

  // Before the start, as an operator checks the backlog: the checkpoint read as it was written.
  expect(spoolStatus(dataDir)).toMatchObject({ segments: '3', 'backlog events': '12', checkpoint: 'segment 1 offset 3026', 'corrupt records set aside': '0' })

  const collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: db.url })
  try {
    const incidents = async () => (await db.sql`select id from atomic.com_pagerduty_incident_1 order by id`).map((r) => String(r.id))
    const metrics = async () => await (await fetch(`${collector.url}/metrics`)).text()
    const loaded = async () => { const text = await metrics(); return ['v1', 'v2', 'v3'].map((v) => metric(text, `collector_events_loaded_total{version="${v}"}`)) }
    await eventually(async () => (await loaded()).reduce((a, b) => a + b, 0) >= 12, 30_000, 'the backlog loaded')
    expect(await loaded()).toEqual([10, 1, 1])
    // frozen-loaded-1 and -2, before the checkpoint, loaded before the upgrade: not again
    // (a checkpoint taken for damaged replays from segment 1 and loads them here).
    expect(await incidents()).toEqual(['frozen-1', 'frozen-10', 'frozen-2', 'frozen-3', 'frozen-4', 'frozen-5', 'frozen-6', 'frozen-7', 'frozen-8', 'frozen-9'])
    expect((await db.sql`select count(*)::int as n from atomic.com_pagerduty_webhook_v2_message_1`)[0]?.n).toBe(1)
    expect((await db.sql`select id from atomic.com_pagerduty_webhook_v3_event_1`).map((r) => r.id)).toEqual(['frozen-v3-1'])
    expect((await db.sql`select count(*)::int as n, count(distinct event_id)::int as d from atomic.events`)[0]).toEqual({ n: 12, d: 12 })
    // The refused requests' rows as that version built them: text, no payload_encoding.
    expect((await db.sql`select reason, version, payload like '%frozen-caf\uFFFD%' as replaced, request::jsonb ? 'payload_encoding' as encoded from atomic.bad_rows order by reason`).map((r) => ({ ...r }))).toEqual([
      { reason: 'INVALID_JSON', version: null, replaced: false, encoded: false },
      { reason: 'INVALID_UTF8', version: null, replaced: true, encoded: false },
      { reason: 'UNKNOWN_EVENT_TYPE', version: 'v1', replaced: false, encoded: false },
    ])
    const text = await metrics()
    expect(metric(text, 'collector_events_duplicate_total')).toBe(0)
    expect(metric(text, 'collector_spool_corrupt_records_total')).toBe(0)
    expect(metric(text, 'collector_spool_backlog_events')).toBe(0)
    // This version's views, in place of the previous release's.
    expect(await viewMarkers(db.sql, 'atomic')).toEqual(Object.fromEntries(ddlFor('postgres', 'atomic').filter((f) => f.view).map((f) => [f.view as string, viewMarker(f.sql)])))
  } finally {
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
  }
  expect(collector.output()).not.toContain('checkpoint damaged')
  expect(collector.output()).not.toContain('records gone')
  expect(collector.output()).not.toContain('"level":"error"')
  // Its first checkpoint has the crc; nothing waits.
  expect(parseCheckpoint(fs.readFileSync(checkpointPath(path.join(dataDir, 'spool')), 'utf8'))).toMatchObject({ sealed: true, problem: null })
  expect(spoolStatus(dataDir)).toMatchObject({ 'backlog events': '0', 'corrupt records set aside': '0' })
}, 120_000)
