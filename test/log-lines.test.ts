/**
 * The log an operator reads: one JSON object per line, a line per start, stop, outage begin
 * and end, one line per bad-row reason (rate-limited), and never payload contents at info.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import { startCollector, type Collector } from '../src/app.ts'
import { createLog } from '../src/log.ts'
import { eventually, postJson, testConfig } from './helpers/collector.ts'
import { tempDir, type TestDatabase } from './helpers/database.ts'
import { fixtureJson } from './helpers/fixtures.ts'
import { startProxiedCollector, type ProxiedCollector } from './helpers/outage.ts'
import type { TcpProxy } from './helpers/tcp-proxy.ts'

/** Personal data a webhook might carry; it must never reach an info line. */
const MARKER = 'jane.doe.private@example.com'

let db: TestDatabase
let proxy: TcpProxy
let collector: Collector | null = null
let dir: string
const lines: Record<string, unknown>[] = []
const raw: string[] = []
const messages = () => lines.map((l) => l.msg)

let setup: ProxiedCollector | null = null

beforeAll(async () => {
  setup = await startProxiedCollector('loglines', { LOG_LEVEL: 'info' }, (line) => { raw.push(line); lines.push(JSON.parse(line)) })
  ;({ db, proxy, collector, dir } = setup)
})
afterAll(async () => { await setup?.stop() })

const post = (body: string) => postJson(new URL('/com.pagerduty/v1', (collector as Collector).url).href, body)

describe('log lines', () => {
  test('start is one JSON line with time, level, msg and where the data goes', () => {
    const started = lines.find((l) => l.msg === 'collector started') as Record<string, unknown>
    expect(Object.keys(started).slice(0, 3)).toEqual(['time', 'level', 'msg'])
    expect(started.level).toBe('info')
    expect(started.data_dir).toBe(fs.realpathSync(dir))
    // Where it is bound, beside where this host reaches it.
    expect(started.listen).toBe(`127.0.0.1:${new URL(String(started.url)).port}`)
    expect(raw.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(true)
  })

  test('each bad-row reason is logged once per interval, with its reason and no payload', async () => {
    const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }).messages[0] as Record<string, unknown>
    for (let i = 0; i < 3; i++) {
      expect((await post(`{"messages": [${MARKER}`)).status).toBe(400)
      expect((await post(JSON.stringify({ messages: [{ ...message, id: `m${i}` }, { note: MARKER }] }))).status).toBe(202)
    }
    const rejected = lines.filter((l) => l.msg === 'webhook rejected: raw body sent to bad rows')
    expect(rejected.map(({ time: _t, ...rest }) => rest)).toEqual([{ level: 'info', msg: 'webhook rejected: raw body sent to bad rows', reason: 'INVALID_JSON', status: 400 }])
    const bad = lines.filter((l) => l.msg === 'webhook message sent to bad rows')
    expect(bad.map(({ time: _t, ...rest }) => rest)).toEqual([{ level: 'info', msg: 'webhook message sent to bad rows', reason: 'UNKNOWN_WEBHOOK_VERSION', version: null }])
    expect(raw.filter((line) => line.includes(MARKER))).toEqual([])
  })

  test('an outage logs its beginning and its end once each, and the backlog then loads', async () => {
    await eventually(() => collector!.spool.stats().backlogEvents === 0, 20_000, 'the first events to load')
    proxy.close()
    const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }).messages[0] as Record<string, unknown>
    for (let i = 0; i < 5; i++) expect((await post(JSON.stringify({ messages: [{ ...message, id: `outage-${i}` }] }))).status).toBe(202)
    await eventually(() => messages().includes('database unavailable: events wait in the spool'), 20_000, 'the outage line')
    proxy.open()
    await eventually(() => collector!.spool.stats().backlogEvents === 0, 30_000, 'the backlog to drain')
    expect(messages().filter((m) => m === 'database unavailable: events wait in the spool')).toHaveLength(1)
    const reachable = lines.filter((l) => l.msg === 'database reachable')
    expect(reachable.map((l) => l.previous)).toEqual(['unknown', 'down'])
    const n = (await db.sql`select count(*)::int as n from atomic.events where event_id in (select root_id from atomic.com_pagerduty_incident_1 where id like 'outage-%')`)[0]?.n
    expect(n).toBe(5)
  })

  test('stop logs the shutdown and a final line with what is left', async () => {
    await collector!.stop()
    collector = null
    const stopped = lines.find((l) => l.msg === 'collector stopped') as Record<string, unknown>
    expect(stopped.backlog_events).toBe(0)
    expect(messages().indexOf('shutting down: finishing in-flight requests')).toBeLessThan(messages().indexOf('collector stopped'))
  })
})

test('a DATA_DIR on a disk with less room than SPOOL_MAX_BYTES is named at start', async () => {
  const own: Record<string, unknown>[] = []
  const spoolDir = tempDir('loglines-disk')
  const config = testConfig({ DATABASE_URL: db.url, DATA_DIR: spoolDir, LOG_LEVEL: 'info', SPOOL_MAX_BYTES: '8000TiB' })
  const small = await startCollector({ ...config }, createLog('info', (line) => { own.push(JSON.parse(line)) }))
  await small.stop()
  fs.rmSync(spoolDir, { recursive: true, force: true })
  const warning = own.find((l) => String(l.msg).startsWith('the disk holding DATA_DIR fills before SPOOL_MAX_BYTES')) as Record<string, unknown>
  expect([warning?.level, typeof warning?.free_bytes, warning?.spool_max_bytes]).toEqual(['warn', 'number', 8000 * 2 ** 40])
})
