/**
 * The embedded database held by a socket client: PGlite 0.5.14 wedges on
 * `convert_to(x, 'WIN1252')` (it answers with the RowDescription and nothing more).
 */
import fs from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import { expect, test } from 'bun:test'
import { postJson, spawnCollector, type Spawned } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { untilLoaded, v1Body } from '../helpers/traffic.ts'

/** A client on the embedded database's socket in `dir`. */
const socketClient = (dir: string) => postgres({ path: path.join(dir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })

/** Posts one webhook per id, each acknowledged. */
async function post(collector: Spawned, ids: string[]): Promise<void> {
  for (const id of ids) expect((await postJson(`${collector.url}/com.pagerduty/v1`, v1Body([id]))).status).toBe(202)
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`)

// PGlite wedged by a client answered the writer's next INSERT with that client's leftovers:
// postgres.js took it for a success with no rows, the batch's events were counted as
// duplicates and the checkpoint moved past them; they were never loaded (lost at the next
// start). Now nothing more is passed to a PGlite that answered without ReadyForQuery.
test('webhooks posted after a client wedged PGlite are not taken for loaded: killed and started again, every one loads once', async () => {
  const dir = tempDir('embedded-wedge-kill')
  try {
    const collector = await spawnCollector({ DATA_DIR: dir, EMBEDDED_STALL_RESTART_MS: '0' })
    const before = new Set(ids('wedge-kill-before', 3))
    const during = new Set(ids('wedge-kill-during', 10))
    try {
      await post(collector, [...before])
      const reader = socketClient(dir)
      expect(await untilLoaded(reader, before, 'wedge-kill')).toEqual({ acked: 3, loaded: 3, lost: 0, duplicated: 0 })
      await reader.end({ timeout: 1 })
      const holder = socketClient(dir)
      void holder.unsafe("select convert_to('x', 'WIN1252')").simple().catch(() => {})
      await Bun.sleep(500)
      await post(collector, [...during])
      // Time for the writer to take them (it answered them as loaded at once before).
      await Bun.sleep(3000)
    } finally {
      collector.proc.kill('SIGKILL')
      await collector.proc.exited
    }
    const again = await spawnCollector({ DATA_DIR: dir })
    const reader = socketClient(dir)
    try {
      const all = new Set([...before, ...during])
      expect(await untilLoaded(reader, all, 'wedge-kill', 60_000)).toEqual({ acked: all.size, loaded: all.size, lost: 0, duplicated: 0 })
    } finally {
      await reader.end({ timeout: 1 })
      again.proc.kill('SIGTERM')
      expect(await again.proc.exited).toBe(0)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}, 180_000)
