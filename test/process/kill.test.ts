/**
 * SIGKILL at random moments while clients post: after every restart, each message that got a
 * 2xx is loaded into atomic.com_pagerduty_incident_1 and atomic.events exactly once.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { killRoundsUnderLoad } from '../helpers/collector.ts'
import { formatTally, tally, untilLoaded } from '../helpers/traffic.ts'

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
  const { load, collector } = await killRoundsUnderLoad({ DATA_DIR: dataDir, DATABASE_URL: db.url }, { rounds: 5, minMs: 150, maxMs: 600, prefix: 'kill', settleMs: 300 })
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
