/**
 * One process per DATA_DIR (src/data-dir-lock.ts): a second `collector serve` on the same
 * DATA_DIR, even on another port, refuses to start before it opens the spool, so it can
 * neither write into the first one's segments nor load and delete them; a killed collector's
 * lock goes with it; `collector migrate` next to a collector on the embedded database stops
 * instead of opening PGlite's files a second time.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { lockDataDir } from '../../src/data-dir-lock.ts'
import { BUN, ROOT, spawnCollector } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { formatTally, startLoad, tally, untilLoaded } from '../helpers/traffic.ts'

let db: TestDatabase
const dirs: string[] = []
const newDataDir = (label: string): string => { const d = tempDir(label); dirs.push(d); return d }
beforeAll(async () => { db = await freshDatabase('data_dir_lock') }, 60_000)
afterAll(async () => {
  await db.drop()
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
}, 30_000)

/** Runs the CLI to its end: exit code and what it printed. */
async function run(env: Record<string, string>, args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, out: out + err }
}

const segments = (dataDir: string): string[] => fs.readdirSync(path.join(dataDir, 'spool')).filter((f) => f.endsWith('.seg')).sort()

/** A child process that tries to take `dir` and prints what happened. */
async function tryLockElsewhere(dir: string): Promise<string> {
  const script = `const { lockDataDir } = await import(${JSON.stringify(path.join(ROOT, 'src/data-dir-lock.ts'))}); try { const l = lockDataDir(${JSON.stringify(dir)}); console.log(l.held ? 'held' : 'unguarded ' + l.reason) } catch (e) { console.log(e.code + ': ' + e.message) }`
  const proc = Bun.spawn([BUN, '-e', script], { stdout: 'pipe', stderr: 'pipe' })
  const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  return out.trim()
}

describe('one process per DATA_DIR', () => {
  test('a second serve on the same DATA_DIR exits before touching the spool; every webhook the first acknowledged loads once', async () => {
    const dataDir = newDataDir('lock-serve')
    const env = { DATA_DIR: dataDir, DATABASE_URL: db.url }
    const first = await spawnCollector(env)
    const load = startLoad({ url: () => first.url, clients: 2, prefix: 'lock' })
    try {
      await Bun.sleep(300)
      const before = segments(dataDir)
      const second = await run(env, ['serve'])
      expect(second.code).toBe(1)
      expect(second.out).toContain('DATA_DIR_IN_USE')
      expect(second.out).toContain(`in use by another collector (pid ${first.proc.pid})`)
      expect(second.out).not.toContain('collector started')
      expect(segments(dataDir)).toEqual(before) // no segment of its own, none removed
      await Bun.sleep(300)
    } finally {
      await load.stop()
    }
    expect(load.acked.size).toBeGreaterThan(10)
    const result = await untilLoaded(db.sql, load.acked, 'lock')
    console.log(`data-dir lock: ${formatTally(result)}`)
    expect(result).toEqual({ acked: load.acked.size, loaded: load.acked.size, lost: 0, duplicated: 0 })

    // SIGKILL leaves no stale lock: the kernel drops it with the process.
    first.proc.kill('SIGKILL')
    expect(await first.proc.exited).toBe(137)
    const next = await spawnCollector(env)
    try {
      expect(fs.readFileSync(path.join(dataDir, 'collector.lock'), 'utf8').trim()).toBe(String(next.proc.pid))
      expect((await tally(db.sql, load.acked, 'lock')).duplicated).toBe(0)
    } finally {
      next.proc.kill('SIGTERM')
      expect(await next.proc.exited).toBe(0)
    }
    // A clean stop releases it too.
    expect(await tryLockElsewhere(dataDir)).toBe('held')
  }, 90_000)

  test('collector migrate on the embedded database of a running collector stops with DATA_DIR_IN_USE', async () => {
    const dataDir = newDataDir('lock-embedded')
    const collector = await spawnCollector({ DATA_DIR: dataDir })
    try {
      const migrate = await run({ DATA_DIR: dataDir }, ['migrate'])
      expect(migrate.code).toBe(1)
      expect(migrate.out).toContain('DATA_DIR_IN_USE')
      // So is a replay into it, and it leaves nothing behind in DATA_DIR (no private spool).
      const before = fs.readdirSync(dataDir).sort()
      const file = path.join(dataDir, '..', `${path.basename(dataDir)}.ndjson`)
      fs.writeFileSync(file, '{"messages":[]}\n')
      const replay = await run({ DATA_DIR: dataDir }, ['spool', 'replay', file])
      expect([replay.code, replay.out.includes('DATA_DIR_IN_USE')]).toEqual([1, true])
      expect(fs.readdirSync(dataDir).sort()).toEqual(before)
      expect((await fetch(`${collector.url}/ready`)).status).toBe(200)
    } finally {
      collector.proc.kill('SIGTERM')
      expect(await collector.proc.exited).toBe(0)
    }
    const migrate = await run({ DATA_DIR: dataDir }, ['migrate'])
    expect(migrate.code).toBe(0)
  }, 90_000)

  test('within one process the lock is counted: held until the last holder releases it', async () => {
    const dir = newDataDir('lock-count')
    const a = lockDataDir(dir)
    const b = lockDataDir(dir)
    expect([a.held, b.held]).toEqual([true, true])
    expect(await tryLockElsewhere(dir)).toStartWith('DATA_DIR_IN_USE: ')
    a.release()
    a.release() // twice is once
    expect(await tryLockElsewhere(dir)).toContain(`(pid ${process.pid})`)
    b.release()
    expect(await tryLockElsewhere(dir)).toBe('held')
  }, 30_000)
})
