/**
 * The one-off loads' frame (`spool replay`, `bad-rows retry`): a private spool and writer
 * into the configured database, all closed when the load ends, however it ends.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { withPrivateLoad } from '../../src/cli/private-load.ts'
import { loadConfig } from '../../src/config.ts'
import type { Log } from '../../src/log.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('private_load') })
afterAll(async () => { await db.drop() })

test('a load that returns without finish() (bad-rows retry with nothing to retry) stops its writer: no "database unavailable" once the pool is closed', async () => {
  const loaded = loadConfig({ DATABASE_URL: db.url, DATA_DIR: tempDir('private-load') }, ['bad-rows', 'retry'])
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues))
  const lines: { level: string; msg: string }[] = []
  const log: Log = (level, msg) => { lines.push({ level, msg }) }
  expect(await withPrivateLoad(loaded.config, log, 'test-load', 'the test stops here', async () => 'nothing to do')).toBe('nothing to do')
  // A writer left running met the closed pool at its first migrate or idle check (within 1 s).
  await Bun.sleep(1_500)
  expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([])
}, 30_000)
