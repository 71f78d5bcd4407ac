/**
 * A full spool (tiny SPOOL_MAX_BYTES, database unreachable) answers 503 with Retry-After and
 * never 2xx; once the database is back and the backlog loads, it accepts again by itself.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { tally, untilLoaded, v1Body } from '../helpers/traffic.ts'
import { downDatabase } from '../helpers/outage.ts'

let db: TestDatabase
let dataDir: string
beforeAll(async () => {
  db = await freshDatabase('full')
  dataDir = tempDir('full')
}, 60_000)
afterAll(async () => {
  await db.drop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

test('a full spool answers 503 SPOOL_FULL with Retry-After, and recovers by itself when the database returns', async () => {
  const { proxy, url } = downDatabase(db)
  const collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: url, SPOOL_MAX_BYTES: '65536', MAX_BODY_BYTES: '4096' })
  const acked = new Set<string>()
  try {
    let refused: Response | null = null
    for (let n = 0; n < 100 && !refused; n++) {
      const res = await postJson(`${collector.url}/com.pagerduty/v1`, v1Body([`full-${n}`]))
      if (res.status === 202) acked.add(`full-${n}`)
      else refused = res
    }
    expect(acked.size).toBeGreaterThan(2)
    expect(refused?.status).toBe(503)
    expect(refused?.headers.get('retry-after')).toBe('30')
    expect(((await refused?.json()) as { error: { code: string } }).error.code).toBe('SPOOL_FULL')
    const ready = await fetch(`${collector.url}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ status: 'not_ready', reason: expect.stringMatching(/^the spool is full: \d+ bytes of SPOOL_MAX_BYTES=\d+; webhooks are taken again as the backlog loads$/), spool: { writable: false }, database: { state: 'down' } })

    proxy.open()
    await eventually(async () => {
      const res = await postJson(`${collector.url}/com.pagerduty/v1`, v1Body(['full-after']))
      if (res.status === 202) acked.add('full-after')
      return res.status === 202
    }, 30_000, 'a 202 once the database is back')
    await untilLoaded(db.sql, acked, 'full')
    expect(await tally(db.sql, acked, 'full')).toEqual({ acked: acked.size, loaded: acked.size, lost: 0, duplicated: 0 })
    await eventually(async () => (await fetch(`${collector.url}/ready`)).status === 200, 10_000, '/ready 200')
  } finally {
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
    proxy.close()
  }
}, 60_000)
