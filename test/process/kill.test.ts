/**
 * SIGKILL at random moments while clients post: after every restart, each message that got a
 * 2xx is loaded into atomic.com_pagerduty_incident_1 and atomic.events exactly once.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { spawnCollector } from '../helpers/collector.ts'
import { formatTally, startLoad, tally, untilLoaded } from '../helpers/traffic.ts'

let db: TestDatabase
let dataDir: string
beforeAll(async () => {
  db = await freshDatabase('kill')
  dataDir = tempDir('kill')
}, 60_000)
afterAll(async () => {
  await db.drop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}, 30_000)

test('five SIGKILLs under load: every acknowledged message loads exactly once', async () => {
  const env = { DATA_DIR: dataDir, DATABASE_URL: db.url }
  let collector = await spawnCollector(env)
  let url = collector.url
  const load = startLoad({ url: () => url, clients: 4, prefix: 'kill' })
  try {
    for (let round = 0; round < 5; round++) {
      await Bun.sleep(150 + Math.floor(Math.random() * 450))
      collector.proc.kill('SIGKILL')
      expect(await collector.proc.exited).toBe(137)
      collector = await spawnCollector(env)
      url = collector.url
    }
    await Bun.sleep(300)
  } finally {
    await load.stop()
  }
  try {
    expect(load.acked.size).toBeGreaterThan(50)
    await untilLoaded(db.sql, load.acked, 'kill')
    const result = await tally(db.sql, load.acked, 'kill')
    console.log(`kill test: ${formatTally(result)}; responses by status (0 = connection failed): ${JSON.stringify(Object.fromEntries(load.statuses))}`)
    expect(result).toEqual({ acked: load.acked.size, loaded: load.acked.size, lost: 0, duplicated: 0 })
  } finally {
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
  }
}, 90_000)
