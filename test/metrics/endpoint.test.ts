/**
 * GET /metrics on a running collector: the exposition parses, and its counters move as
 * webhooks are posted and loaded (real fixtures, a real database).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import type { Collector } from '../../src/app.ts'
import { eventually, postJson, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { fixtureJson, readFixture } from '../helpers/fixtures.ts'
import { parsePrometheusText, sampleValue, type MetricFamily } from '../helpers/prometheus.ts'

let db: TestDatabase
let collector: Collector
let dir: string
const url = (path: string) => new URL(path, collector.url).href
const scrape = async (): Promise<Map<string, MetricFamily>> => {
  const response = await fetch(url('/metrics'))
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
  return parsePrometheusText(await response.text())
}
const TRIGGER = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')

/** `route status value` of each collector_http_requests_total series, sorted. */
const requestSeries = (m: Map<string, MetricFamily>): string[] => (m.get('collector_http_requests_total')?.samples ?? []).map((s) => `${s.labels.route} ${s.labels.status} ${s.value}`).sort()
/**
 * What each route can answer (src/http/server.ts): a probe its 200 or a 405 (/ready a 503
 * when not ready, /metrics a 404 when the handler has none), a webhook route its 202 and every
 * refusal, any other path a 404, and `other` the 503 of an unexpected failure too.
 */
const ANSWERS: (readonly [string, number])[] = [
  ...[[200, 405], [200, 405, 503], [200, 404, 405]].flatMap((statuses, i) => statuses.map((status) => [['/health', '/ready', '/metrics'][i] as string, status] as const)),
  ...['v1', 'v2', 'v3'].flatMap((version) => [202, 400, 401, 405, 413, 415, 499, 503].map((status) => [`/com.pagerduty/${version}`, status] as const)),
  ['other', 404], ['other', 503],
]

beforeAll(async () => {
  db = await freshDatabase('metrics')
  dir = tempDir('metrics')
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: dir, PAGERDUTY_WEBHOOK_SECRETS: 'whsec' })
})
afterAll(async () => {
  await collector?.stop()
  await db?.drop()
  fs.rmSync(dir, { recursive: true, force: true })
})

describe('GET /metrics', () => {
  test('before any webhook, the series exist at zero and the exposition parses', async () => {
    const m = await scrape()
    expect(sampleValue(m, 'collector_spool_backlog_events')).toBe(0)
    expect(sampleValue(m, 'collector_spool_writable')).toBe(1)
    expect(sampleValue(m, 'collector_events_duplicate_total')).toBe(0)
    expect(sampleValue(m, 'collector_batch_events_count')).toBe(0)
    expect(m.get('collector_batch_commit_seconds')?.type).toBe('histogram')
    expect(sampleValue(m, 'collector_spool_sync_seconds_count')).toBe(0)
    expect(m.get('collector_spool_group_records')?.type).toBe('histogram')
    expect(sampleValue(m, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000)
    expect(sampleValue(m, 'collector_oldest_unloaded_age_seconds')).toBe(0)
    expect(sampleValue(m, 'collector_load_delay_seconds_count')).toBe(0)
    // Every kind from 0: an alert on increase() sees the first 401s.
    for (const kind of ['basic_auth', 'signature_missing', 'signature_mismatch']) expect(sampleValue(m, 'collector_auth_failures_total', { kind })).toBe(0)
    // Every version too: the first event or bad message is an increase.
    for (const version of ['v1', 'v2', 'v3']) {
      for (const name of ['collector_events_accepted_total', 'collector_events_bad_total', 'collector_events_loaded_total', 'collector_pings_total']) expect([name, version, sampleValue(m, name, { version })]).toEqual([name, version, 0])
    }
    // And every status each route can answer: the first 503, 413 or 404 is an increase too.
    expect(requestSeries(m)).toEqual(ANSWERS.map(([route, status]) => `${route} ${status} 0`).sort())
  })

  test('counters move as webhooks are accepted, loaded, rejected and refused', async () => {
    const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: unknown[] }).messages[0]
    expect((await postJson(url('/com.pagerduty/v1'), TRIGGER)).status).toBe(202)
    expect((await postJson(url('/com.pagerduty/v1'), TRIGGER)).status).toBe(202) // the same message again: a duplicate
    expect((await postJson(url('/com.pagerduty/v1'), JSON.stringify({ messages: [message, 42] }))).status).toBe(202)
    expect((await postJson(url('/com.pagerduty/v1'), '{not json')).status).toBe(400)
    expect((await postJson(url('/com.pagerduty/v3'), JSON.stringify({ event: { id: 'E1', event_type: 'pagey.ping' } }))).status).toBe(401)

    await eventually(async () => sampleValue(await scrape(), 'collector_spool_backlog_events') === 0 && sampleValue(await scrape(), 'collector_events_duplicate_total') === 2, 20_000, 'the spool to drain')
    const m = await scrape()
    expect(sampleValue(m, 'collector_http_requests_total', { route: '/com.pagerduty/v1', status: '202' })).toBe(3)
    expect(sampleValue(m, 'collector_http_requests_total', { route: '/com.pagerduty/v1', status: '400' })).toBe(1)
    expect(sampleValue(m, 'collector_http_requests_total', { route: '/com.pagerduty/v3', status: '401' })).toBe(1)
    expect(sampleValue(m, 'collector_http_request_duration_seconds_count', { route: '/com.pagerduty/v1' })).toBe(4)
    expect(sampleValue(m, 'collector_events_accepted_total', { version: 'v1' })).toBe(3)
    expect(sampleValue(m, 'collector_events_bad_total', { version: 'v1' })).toBe(1)
    expect(sampleValue(m, 'collector_auth_failures_total', { kind: 'signature_missing' })).toBe(1)
    expect(sampleValue(m, 'collector_events_loaded_total', { version: 'v1' })).toBe(1)
    expect(sampleValue(m, 'collector_events_duplicate_total')).toBe(2)
    // The message sent to bad rows, and the raw body of the 400.
    expect(sampleValue(m, 'collector_bad_rows_loaded_total')).toBe(2)
    expect(sampleValue(m, 'collector_database_up')).toBe(1)
    expect(sampleValue(m, 'collector_last_commit_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60)
    const batches = sampleValue(m, 'collector_batch_events_count') as number
    expect(batches).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m, 'collector_batch_commit_seconds_count')).toBe(batches)
    expect(sampleValue(m, 'collector_batch_events_sum')).toBe(3)
    // From receipt to commit: one observation per batch, each under a minute here.
    expect(sampleValue(m, 'collector_load_delay_seconds_count')).toBe(batches)
    expect(sampleValue(m, 'collector_load_delay_seconds_bucket', { le: '60' })).toBe(batches)
    expect(sampleValue(m, 'collector_load_delay_seconds_sum')).toBeGreaterThan(0)
    expect(sampleValue(m, 'collector_oldest_unloaded_age_seconds')).toBe(0)
    // Every 202 waited for a spool fsync; the 400's raw body was spooled too (for bad rows).
    const syncs = sampleValue(m, 'collector_spool_sync_seconds_count') as number
    expect(syncs).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m, 'collector_spool_group_records_count')).toBe(syncs)
    expect(sampleValue(m, 'collector_spool_group_records_sum')).toBe(4)
    expect(sampleValue(m, 'collector_spool_sync_seconds_sum')).toBeGreaterThan(0)
    const n = (await db.sql`select count(*)::int as n from atomic.events`)[0]?.n
    expect(n).toBe(1)
  })

  test('a scrape counts itself under its own route', async () => {
    const before = sampleValue(await scrape(), 'collector_http_requests_total', { route: '/metrics', status: '200' }) as number
    expect(sampleValue(await scrape(), 'collector_http_requests_total', { route: '/metrics', status: '200' })).toBe(before + 1)
  })

  test('collector_events_bad_total counts the messages of a batch past the bad-row cap, not its one TOO_MANY_BAD_MESSAGES row', async () => {
    const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }).messages[0]
    const before = sampleValue(await scrape(), 'collector_events_bad_total', { version: 'v1' }) ?? 0
    const body = JSON.stringify({ messages: [{ ...message, id: 'METRICS-PAST-CAP' }, ...Array.from({ length: 105 }, (_, i) => ({ id: `bad-${i}`, type: 'incident.teleport' }))] })
    expect((await postJson(url('/com.pagerduty/v1'), body)).status).toBe(202)
    expect((sampleValue(await scrape(), 'collector_events_bad_total', { version: 'v1' }) ?? 0) - before).toBe(105)
  })

  test('every answer is counted in a series that was there from the start', async () => {
    const v1 = url('/com.pagerduty/v1')
    const answers = await Promise.all([
      fetch(url('/health')), fetch(url('/health'), { method: 'POST' }), fetch(url('/ready')), fetch(url('/metrics'), { method: 'DELETE' }),
      fetch(url('/nowhere')), fetch(v1), postJson(v1, ''), fetch(v1, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: TRIGGER }),
      postJson(url('/com.pagerduty/v3'), JSON.stringify({ event: { id: 'E2', event_type: 'pagey.ping' } }), { 'x-pagerduty-signature': 'v1=00' }),
    ])
    expect(answers.map((r) => r.status)).toEqual([200, 405, 200, 405, 404, 405, 400, 415, 401])
    const series = requestSeries(await scrape()).map((s) => s.replace(/ \d+$/, ''))
    expect(series).toEqual(ANSWERS.map(([route, status]) => `${route} ${status}`).sort())
  })
})
