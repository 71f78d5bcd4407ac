/**
 * A failover that leaves the collector's connections on a server that turned read-only (an
 * Aurora writer becomes a reader and keeps its connections; the DNS name now leads to the
 * new primary): the write refused with SQLSTATE 25006 is retried on new connections, which
 * reach the new primary, instead of failing on the old ones until they are recycled.
 * Two real servers: a cluster of the test's own (the old primary) and TEST_DATABASE_URL's.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import postgres from 'postgres'
import { startCollector, type Collector } from '../../src/app.ts'
import { createLog } from '../../src/log.ts'
import { eventually, postJson, testConfig } from '../helpers/collector.ts'
import { CLUSTER_BIN, createCluster, type Cluster } from '../helpers/cluster.ts'
import { freshDatabase, hasServer, tempDir, type TestDatabase } from '../helpers/database.ts'
import { fixtureJson } from '../helpers/fixtures.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'

let cluster: Cluster | null = null
let primary: TestDatabase | null = null
let proxy: TcpProxy | null = null
let collector: Collector | null = null
let dir: string | null = null
afterAll(async () => {
  await collector?.stop()
  proxy?.stop()
  cluster?.destroy()
  await primary?.drop()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!hasServer() || !CLUSTER_BIN)('a failover to a read-only server', () => {
  test('a write refused as read-only is retried on new connections, which reach the new primary', async () => {
    primary = await freshDatabase('failover')
    const name = new URL(primary.url).pathname.slice(1)
    cluster = createCluster('failover')
    const old = postgres(cluster.url, { max: 1, onnotice: () => {} })
    await old.unsafe(`create database "${name}"`)
    const oldDb = postgres(`${cluster.url.replace(/\/postgres$/, '')}/${name}`, { max: 1, onnotice: () => {} })
    proxy = startTcpProxy({ hostname: '127.0.0.1', port: cluster.port })
    dir = tempDir('failover')
    const lines: Record<string, unknown>[] = []
    collector = await startCollector(testConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${proxy.port}/${name}`, DATA_DIR: dir }), createLog('info', (line) => { lines.push(JSON.parse(line)) }))
    const message = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }).messages[0] as Record<string, unknown>
    const post = async (id: string) => expect((await postJson(new URL('/com.pagerduty/v1', collector!.url).href, JSON.stringify({ messages: [{ ...message, id }] }))).status).toBe(202)
    const ids = async (sql: postgres.Sql) => (await sql`select i.id from atomic.com_pagerduty_incident_1 i join atomic.events e on e.event_id = i.root_id order by 1`).map((r) => r.id as string)
    try {
      await post('before')
      await eventually(async () => (await ids(oldDb)).length === 1, 20_000, 'the first event in the old primary')

      // The failover: the old primary takes no more writes, open sessions included; the
      // name now leads to the new one.
      await old`alter system set default_transaction_read_only = on`
      await old`select pg_reload_conf()`
      proxy.retarget({ hostname: '127.0.0.1', port: Number(new URL(primary.url).port || 5432) })
      await post('after')
      await eventually(async () => (await ids(primary!.sql)).length === 1, 20_000, 'the second event in the new primary')

      expect([await ids(oldDb), await ids(primary.sql)]).toEqual([['before'], ['after']])
      expect(lines.some((l) => l.msg === 'the database refused a write as read-only (a failover?): retrying on new connections')).toBe(true)
      expect(collector.ready().body).toMatchObject({ database: { state: 'up' }, spool: { backlog_events: 0 } })
    } finally {
      await oldDb.end({ timeout: 1 })
      await old.end({ timeout: 1 })
    }
  }, 60_000)
})
