/**
 * The default set-up (`npm start`, no DATABASE_URL: the embedded database, PGlite, in
 * DATA_DIR) killed with SIGKILL at random moments while clients post, PGlite's files
 * included: every restart opens it again, and every message that got a 2xx is loaded
 * exactly once. (PGlite runs with fsync off in the collector's process: a kill stops it
 * mid-write, and a PGlite that cannot open its directory afterwards stops the collector.)
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import { tempDir } from '../helpers/database.ts'
import { killRoundsUnderLoad, spawnCollector } from '../helpers/collector.ts'
import { formatTally, tally, untilLoaded, v1Body } from '../helpers/traffic.ts'

const dataDir = tempDir('kill-embedded')
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

test('SIGKILLs under load with the embedded database: it opens again each time, and every acknowledged message loads exactly once', async () => {
  // Late enough that the embedded database is up and loading (it takes a second or two to open).
  const { load, collector } = await killRoundsUnderLoad({ DATA_DIR: dataDir }, { rounds: 5, minMs: 1500, maxMs: 3000, prefix: 'kille', settleMs: 500 })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    expect(load.acked.size).toBeGreaterThan(50)
    await untilLoaded(sql, load.acked, 'kille', 60_000)
    const result = await tally(sql, load.acked, 'kille')
    console.log(`embedded kill test: ${formatTally(result)}; responses by status (0 = connection failed): ${JSON.stringify(Object.fromEntries(load.statuses))}`)
    expect(result).toEqual({ acked: load.acked.size, loaded: load.acked.size, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
  }
}, 120_000)

// A first start creates the embedded database's cluster (a second or two of writing files):
// a kill in the middle left some PGlite users' directories unopenable for good (a partial
// cluster, then `Aborted()` at every start). Here it is created again at the next start.
test('a SIGKILL while the first start creates the embedded database: the next start opens it and loads', async () => {
  const count = (dir: string): number => {
    try { return fs.readdirSync(dir, { recursive: true }).length } catch { return 0 }
  }
  const partial: number[] = []
  for (let round = 0; round < 3; round++) {
    const dir = tempDir(`kill-initdb-${round}`)
    try {
      const first = Bun.spawn([process.execPath, path.join(import.meta.dir, '../../src/main.ts')], { env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'error', DATA_DIR: dir }, stdout: 'ignore', stderr: 'ignore' })
      const deadline = Date.now() + 30_000
      while (count(path.join(dir, 'pglite')) === 0 && Date.now() < deadline) await Bun.sleep(5)
      await Bun.sleep(Math.floor(Math.random() * 300))
      first.kill('SIGKILL')
      expect(await first.exited).toBe(137)
      partial.push(count(path.join(dir, 'pglite')))
      const again = await spawnCollector({ DATA_DIR: dir })
      try {
        const id = `kill-initdb-${round}`
        const res = await fetch(`${again.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body([id]) })
        expect(res.status).toBe(202)
        const sql = postgres({ path: path.join(dir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
        try {
          expect(await untilLoaded(sql, new Set([id]), 'kill-initdb')).toEqual({ acked: 1, loaded: 1, lost: 0, duplicated: 0 })
        } finally {
          await sql.end({ timeout: 1 })
        }
      } finally {
        again.proc.kill('SIGTERM')
        expect(await again.proc.exited).toBe(0)
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(`killed while creating the cluster, with ${partial.join(', ')} of its entries written`)
}, 300_000) // three first starts: 2-6 s each on a quiet machine, 36 s seen with other suites running
