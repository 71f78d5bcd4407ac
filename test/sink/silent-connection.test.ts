/**
 * A database connection that goes silent in the middle of a batch (no reset: a NAT or
 * firewall that forgot it, a failed-over server) and a write that is only slow (a lock held
 * elsewhere), against a real PostgreSQL behind a TCP proxy: after DB_WRITE_TIMEOUT_MS the
 * collector cancels the statement, closes its connections and retries on new ones, instead of
 * waiting ~15 minutes for the kernel; a slow write gets through as its limit doubles, with no
 * abandoned statement left waiting beside it; everything loads once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Collector } from '../../src/app.ts'
import { eventually, postJson } from '../helpers/collector.ts'
import { hasServer, type TestDatabase } from '../helpers/database.ts'
import { fixtureJson } from '../helpers/fixtures.ts'
import { startProxiedCollector, type ProxiedCollector } from '../helpers/outage.ts'
import type { TcpProxy } from '../helpers/tcp-proxy.ts'

const TIMED_OUT = 'database write timed out: closing the connections and retrying on new ones'

describe.skipIf(!hasServer())('a silent or slow database connection', () => {
  let db: TestDatabase
  let proxy: TcpProxy
  let collector: Collector | null = null
  const lines: Record<string, unknown>[] = []
  const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }).messages[0] as Record<string, unknown>
  const post = async (id: string) => {
    const response = await postJson(new URL('/com.pagerduty/v1', (collector as Collector).url).href, JSON.stringify({ messages: [{ ...message, id }] }))
    expect(response.status).toBe(202)
  }
  const loaded = async (prefix: string): Promise<number> =>
    (await db.sql`select count(*)::int as n from atomic.events e join atomic.com_pagerduty_incident_1 i on i.root_id = e.event_id where i.id like ${`${prefix}%`}`)[0]?.n as number
  const timeouts = () => lines.filter((l) => l.msg === TIMED_OUT).map((l) => l.seconds)

  let setup: ProxiedCollector | null = null

  beforeAll(async () => {
    setup = await startProxiedCollector('silent', { DB_WRITE_TIMEOUT_MS: '1000' }, (line) => { lines.push(JSON.parse(line)) })
    ;({ db, proxy, collector } = setup)
    await post('warm-up')
    await eventually(async () => (await loaded('warm-up')) === 1, 20_000, 'the first event to load')
  })
  afterAll(async () => { await setup?.stop() })

  test('connections gone silent: the batch is retried on new ones after DB_WRITE_TIMEOUT_MS and loads once', async () => {
    lines.length = 0
    proxy.freeze()
    for (let i = 0; i < 3; i++) await post(`silent-${i}`)
    await eventually(async () => (await loaded('silent-')) === 3, 15_000, 'the batch to load on a new connection')
    expect(timeouts()).toEqual([1])
    expect(collector!.ready().body).toMatchObject({ database: { state: 'up' }, spool: { backlog_events: 0 } })
    expect(collector!.metrics.text()).toContain('\ncollector_database_write_timeouts_total 1\n')
  }, 30_000)

  test('a write that is only slow (a lock held elsewhere) gets through as its limit doubles, abandoned attempts cancelled, and loads once', async () => {
    lines.length = 0
    // SHARE blocks the INSERT but not what the retry's table check takes.
    let waiting = -1
    const holding = db.sql.begin(async (tx) => {
      await tx`lock table atomic.events in share mode`
      await post('locked-0')
      await eventually(() => timeouts().length >= 2, 10_000, 'two timeouts while the lock is held')
      await Bun.sleep(300)
      // The abandoned statements were cancelled: only the attempt in progress waits.
      const sessions = await db.sql`select count(*)::int as n from pg_stat_activity where application_name = 'pagerduty-collector' and wait_event_type = 'Lock'`
      waiting = sessions[0]?.n as number
    })
    await holding
    await eventually(async () => (await loaded('locked-')) === 1, 20_000, 'the event to load after the lock')
    expect(waiting).toBeLessThanOrEqual(1)
    const seen = timeouts()
    expect(seen.slice(0, 2)).toEqual([1, 2])
    expect(seen).toEqual([1, 2, 4, 8, 16].slice(0, seen.length))
    // The warm-up, the three silent ones and this one: each once.
    expect((await db.sql`select count(*)::int as n from atomic.events`)[0]?.n).toBe(5)
  }, 30_000)
})
