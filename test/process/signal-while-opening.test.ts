/**
 * SIGTERM while a first start is still creating the embedded database (seconds, on its own
 * thread, with the port already open): the contract's stop is "stop accepting, finish
 * in-flight requests, drain, exit 0". The port stayed open and kept acknowledging new
 * webhooks until the database had opened (4.5 s after the signal on a 2-core machine, ~370
 * webhooks taken after it), as if no signal had come.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import { tempDir } from '../helpers/database.ts'
import { BUN, ROOT, spawnCollector } from '../helpers/collector.ts'
import { untilLoaded, v1Body } from '../helpers/traffic.ts'

const dataDir = tempDir('signal-opening')
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const post = (port: number, id: string) => fetch(`http://127.0.0.1:${port}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body([id]), keepalive: false })
  .then(async (response) => { await response.arrayBuffer(); return response.status }, () => 'refused' as const)

test('SIGTERM while the embedded database is being created: new webhooks are refused from then on, the exit is 0, and what was acknowledged loads at the next start', async () => {
  const port = 30_000 + Math.floor(Math.random() * 2000)
  const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info' },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  let output = ''
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) output += decoder.decode(chunk)
  })()
  try {
    const spawnedAt = performance.now()
    let first: number | 'refused' = 'refused'
    while (first !== 202) {
      expect(performance.now() - spawnedAt).toBeLessThan(30_000)
      first = await post(port, 'sigopen-0')
      if (first !== 202) await Bun.sleep(5)
    }
    expect(output).not.toContain('"msg":"collector started"')
    proc.kill('SIGTERM')
    await Bun.sleep(200)
    // Still opening (creating takes seconds): the signal must already have closed the door.
    expect(output).not.toContain('"msg":"collector started"')
    expect(await post(port, 'sigopen-1')).not.toBe(202)
    expect(await proc.exited).toBe(0)
    expect(output).toContain('"msg":"collector stopped"')
  } finally {
    proc.kill('SIGKILL')
    await proc.exited
  }

  const again = await spawnCollector({ DATA_DIR: dataDir })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    expect(await untilLoaded(sql, new Set(['sigopen-0']), 'sigopen')).toEqual({ acked: 1, loaded: 1, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
  }
}, 120_000)
