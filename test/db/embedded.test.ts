/**
 * The embedded database over the wire protocol, with several clients at once (the writer
 * and a psql user): each client's extended-protocol sequence (Parse/Bind/Execute ... Sync)
 * must reach PGlite's single session without another client's messages in the middle.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import postgres from 'postgres'
import { startEmbedded, type EmbeddedDatabase } from '../../src/db/embedded.ts'
import { tempDir } from '../helpers/database.ts'

let dir: string
let db: EmbeddedDatabase
beforeAll(async () => {
  dir = tempDir('embedded')
  db = await startEmbedded({ dataDir: dir })
})
afterAll(async () => {
  await db.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('three clients interleaving parameterised queries and transactions all get their own answers', async () => {
  const clients = [0, 1, 2].map(() => postgres(db.url, { max: 1, onnotice: () => {} }))
  const [a, b, c] = clients as [postgres.Sql, postgres.Sql, postgres.Sql]
  await a`create table if not exists t (client int, n int)`
  const work = (sql: postgres.Sql, client: number) => Promise.all(Array.from({ length: 100 }, async (_, n) => {
    if (n % 10 === 0) {
      await sql.begin(async (tx) => {
        await tx`insert into t values (${client}, ${n})`
        await tx`insert into t values (${client}, ${n + 1000})`
      })
      return n
    }
    const [row] = await sql`select ${n}::int + ${client * 10000}::int as v`
    return (row?.v as number) - client * 10000
  }))
  const results = await Promise.all([work(a, 1), work(b, 2), work(c, 3)])
  for (const r of results) expect(r).toEqual(Array.from({ length: 100 }, (_, n) => n))
  const [count] = await a`select count(*)::int as n from t`
  expect(count?.n).toBe(3 * 10 * 2)
  await Promise.all(clients.map((s) => s.end()))
}, 60_000)

test('flush makes PGlite\'s files durable: syncfs(2) on their file system (PGlite itself never fsyncs)', async () => {
  const strace = Bun.which('strace')
  if (!strace) {
    await db.flush() // at least it succeeds
    return
  }
  // The flush runs `sync -f` in a child process: trace that it calls syncfs and succeeds.
  const traced = Bun.spawnSync([strace, '-f', '-e', 'trace=syncfs', 'sync', '-f', `${dir}/pglite`], { stderr: 'pipe' })
  expect(traced.exitCode).toBe(0)
  expect(traced.stderr.toString()).toMatch(/syncfs\(\d+\)\s+= 0/)
  await db.flush()
})
