/**
 * The embedded database on a disk without room for it (a small tmpfs): the start fails with
 * a reason an operator can act on, and once there is room the next start creates it and
 * loads; a disk that fills while it runs, so that PGlite PANICs, ends the process (the unit
 * restarts it) rather than leaving a writer waiting for good. Needs root (mount).
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import { BUN, ROOT, spawnCollector } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { untilLoaded, v1Body } from '../helpers/traffic.ts'

const mountPoint = tempDir('full-disk')
const mounted = process.geteuid?.() === 0 && Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint]).exitCode === 0
afterAll(() => {
  if (mounted) Bun.spawnSync(['umount', mountPoint])
  fs.rmSync(mountPoint, { recursive: true, force: true })
})

/** Fills the file system holding `dir` up to `leave` bytes free; returns the filler to remove. */
function fill(dir: string, leave: number): string {
  const filler = path.join(dir, 'filler')
  const { bavail, bsize } = fs.statfsSync(dir)
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - leave)))
  return filler
}

test.skipIf(!mounted)('a disk too small to create the embedded database: exit 1 saying ENOSPC, not "[object Object]"; with room, the next start loads', async () => {
  const dataDir = path.join(mountPoint, 'data')
  const first = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'serve'], { env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir }, stdout: 'ignore', stderr: 'pipe' })
  expect(await first.exited).toBe(1)
  const failed = JSON.parse((await new Response(first.stderr).text()).trim().split('\n').pop() as string) as { error: string; code: string }
  expect(failed).toEqual({ ...failed, code: 'EMBEDDED_DATABASE_FAILED', error: `cannot open the embedded database in ${dataDir}/pglite: ENOSPC: no space left on device` })
  expect(Bun.spawnSync(['mount', '-o', 'remount,size=128m', mountPoint]).exitCode).toBe(0)
  const again = await spawnCollector({ DATA_DIR: dataDir })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    expect((await fetch(`${again.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body(['fulldisk-1']) })).status).toBe(202)
    expect(await untilLoaded(sql, new Set(['fulldisk-1']), 'fulldisk')).toEqual({ acked: 1, loaded: 1, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
  }
}, 120_000)

// PGlite's next WAL segment is a new 16 MiB file: with the disk full, the write that needs it
// PANICs. That PGlite never answered again: the writer waited for good ("database write still
// waiting"), /ready said ready and the database up, and freeing the disk changed nothing.
test.skipIf(!mounted)('a disk that fills until PGlite PANICs ends the process with status 1 and says so; the next start loads what was acknowledged', async () => {
  expect(Bun.spawnSync(['mount', '-o', 'remount,size=128m', mountPoint]).exitCode).toBe(0)
  const dataDir = path.join(mountPoint, 'panic')
  const collector = await spawnCollector({ DATA_DIR: dataDir, EMBEDDED_PG_PORT: '0' })
  const port = Number(/"embedded_pg_port":(\d+)/.exec(collector.output())?.[1])
  const psql = postgres({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  let filler = ''
  try {
    expect((await fetch(`${collector.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body(['panic-1']) })).status).toBe(202)
    expect(await untilLoaded(psql, new Set(['panic-1']), 'panic')).toEqual({ acked: 1, loaded: 1, lost: 0, duplicated: 0 })
    filler = fill(mountPoint, 1024 * 1024)
    await psql`select pg_switch_wal()`
    expect((await fetch(`${collector.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body(['panic-2']) })).status).toBe(202)
    const exited = await Promise.race([collector.proc.exited, Bun.sleep(20_000).then(() => 'still running')])
    expect(exited).toBe(1)
    expect(collector.output()).toContain('"msg":"the embedded database stopped (a PostgreSQL PANIC, or its thread ended): exiting, to be started again; acknowledged webhooks wait in the spool"')
  } finally {
    await psql.end({ timeout: 0 }).catch(() => {})
    collector.proc.kill('SIGKILL')
    await collector.proc.exited
    if (filler) fs.rmSync(filler, { force: true })
  }
  const again = await spawnCollector({ DATA_DIR: dataDir })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    expect(await untilLoaded(sql, new Set(['panic-1', 'panic-2']), 'panic')).toEqual({ acked: 2, loaded: 2, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
  }
}, 120_000)

// The one-off commands open the embedded database too. A `spool replay` whose PGlite PANICked
// (its next WAL file on a full disk) waited for good ("database write still waiting"), the
// statement that met the PANIC never answering, and never printed its summary.
test.skipIf(!mounted)('a spool replay whose embedded database PANICs on the full disk ends with status 1 and says so; with room, the same replay loads every line once', async () => {
  expect(Bun.spawnSync(['mount', '-o', 'remount,size=256m', mountPoint]).exitCode).toBe(0)
  const dataDir = path.join(mountPoint, 'replay-panic')
  const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'info' }
  const made = Bun.spawnSync([BUN, path.join(ROOT, 'src/main.ts'), 'migrate'], { env })
  expect({ exitCode: made.exitCode, stderr: made.stderr.toString() }).toEqual({ exitCode: 0, stderr: '' })
  const ids = Array.from({ length: 3000 }, (_, i) => `replaypanic-${i}`)
  const file = path.join(tempDir('replay-panic'), 'webhooks.ndjson')
  fs.writeFileSync(file, `${ids.map((id) => v1Body([id])).join('\n')}\n`)
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  // Small batches: the load takes seconds, and the disk fills while it runs.
  const replay = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'spool', 'replay', file], { env: { ...env, EMBEDDED_PG_PORT: String(port), BATCH_MAX_ROWS: '5' }, stdout: 'pipe', stderr: 'pipe' })
  const psql = postgres({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {}, connect_timeout: 2 })
  let filler = ''
  try {
    const until = Date.now() + 60_000 // a liveness bound: opening took up to 36 s on the loaded machine
    for (;;) {
      const loaded = await psql`select count(*)::int as n from atomic.events`.then((rows) => Number(rows[0]?.n), () => 0)
      if (loaded > 0) break
      if (Date.now() > until) throw new Error('the replay loaded nothing')
      await Bun.sleep(20)
    }
    // 256 KiB left: the next batches need new table pages or WAL within a few writes, so the
    // replay cannot finish on it (with 8 MiB left, recycled WAL files let a fast one finish).
    filler = fill(mountPoint, 256 * 1024)
    // The PANIC may close this connection before it answers.
    await psql`select pg_switch_wal()`.catch(() => {})
    const exited = await Promise.race([replay.exited, Bun.sleep(30_000).then(() => 'still running')])
    expect(exited).toBe(1)
    // Which write meets the full disk first is timing: the next WAL file (a PANIC, the thread
    // ends) or a table's next page (an error, the batch stays unloaded). Either way the
    // replay stops with status 1 and says what did not load.
    const said = await new Response(replay.stdout).text()
    const panicked = said.includes('"msg":"the embedded database stopped (a PostgreSQL PANIC, or its thread ended): the replay stops here; run it again once the database is reachable"')
    const refused = / NOT loaded \(.*(could not extend file|No space left on device)/.test(said)
    expect({ panicked, refused, said: panicked || refused ? '' : said }).toEqual({ panicked, refused, said: '' })
  } finally {
    await psql.end({ timeout: 0 }).catch(() => {})
    replay.kill('SIGKILL')
    await replay.exited
    if (filler) fs.rmSync(filler, { force: true })
  }
  // Its private spool went with it: the file it came from stays.
  expect(fs.readdirSync(dataDir).filter((f) => f.startsWith('replay-'))).toEqual([])
  const again = Bun.spawnSync([BUN, path.join(ROOT, 'src/main.ts'), 'spool', 'replay', file], { env })
  expect(again.exitCode).toBe(0)
  const collector = await spawnCollector({ DATA_DIR: dataDir })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    expect(await untilLoaded(sql, new Set(ids), 'replaypanic')).toEqual({ acked: ids.length, loaded: ids.length, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
}, 180_000)
