/**
 * The one-off loads' frame (`spool replay`, `bad-rows retry`): a private spool and writer
 * into the configured database, all closed when the load ends, however it ends.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { withPrivateLoad } from '../../src/cli/private-load.ts'
import { loadConfig } from '../../src/config.ts'
import type { Log } from '../../src/log.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { BUN, ROOT } from '../helpers/collector.ts'

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

// Two containers sharing DATA_DIR run their one-off commands under the same pid (1, say): the
// second load's spool is the first's. Refused by its lock, it must not remove it on the way out.
test('a load whose private spool is held by a live load of the same pid elsewhere is refused, and leaves that spool alone', async () => {
  const dataDir = tempDir('private-load-same-pid')
  const dir = path.join(dataDir, `test-load-${process.pid}`)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'segment-in-use'), 'x')
  // Another process (another PID namespace's load) holds the spool's lock.
  const holder = Bun.spawn([BUN, '-e', `const { lockDataDir } = await import(${JSON.stringify(path.join(ROOT, 'src/data-dir-lock.ts'))}); lockDataDir(${JSON.stringify(dir)}); console.log('held'); setInterval(() => {}, 1000)`], { stdout: 'pipe' })
  try {
    const reader = holder.stdout.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('held')
    const loaded = loadConfig({ DATABASE_URL: db.url, DATA_DIR: dataDir }, ['bad-rows', 'retry'])
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues))
    const refused = withPrivateLoad(loaded.config, () => {}, 'test-load', 'the test stops here', async () => 'loaded')
    await expect(refused).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' })
    expect(fs.existsSync(path.join(dir, 'segment-in-use'))).toBe(true)
  } finally {
    holder.kill()
    await holder.exited
  }
}, 30_000)
