/**
 * The embedded database on a disk without room for it (a small tmpfs): the start fails with
 * a reason an operator can act on, and once there is room the next start creates it and
 * loads. Needs root (mount).
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
