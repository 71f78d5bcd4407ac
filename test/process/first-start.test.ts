/**
 * `npm start` on a bare machine, with PagerDuty already sending: the first start creates the
 * embedded database (PGlite: seconds of synchronous work). Before it ran on its own thread the
 * port opened only once that was done, and every delivery until then was refused (3,046 of
 * 15,000 at 500 req/s, the port opening 6.1 s after the spawn on a busy 2-core machine).
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import postgres from 'postgres'
import { tempDir } from '../helpers/database.ts'
import { BUN, ROOT } from '../helpers/collector.ts'
import { untilLoaded, v1Body } from '../helpers/traffic.ts'

const dataDir = tempDir('first-start')
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

/** A port free now: bound by the kernel's choice, then let go. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

const accepts = (port: number) => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1')
  socket.once('connect', () => { socket.destroy(); resolve(true) })
  socket.once('error', () => resolve(false))
})

test('a first start takes webhooks from the moment its port opens, seconds before the embedded database is open: none fails to connect, and all load', async () => {
  const port = await freePort()
  const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', BATCH_MAX_WAIT_MS: '5' },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  let output = ''
  // `as`: assigned in the reader above, which the compiler's narrowing does not follow.
  let startedAt = null as number | null
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      output += decoder.decode(chunk)
      if (startedAt === null && output.includes('"msg":"collector started"')) startedAt = performance.now()
    }
  })()
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    const spawnedAt = performance.now()
    while (!(await accepts(port))) {
      expect(performance.now() - spawnedAt).toBeLessThan(30_000)
      await Bun.sleep(5)
    }
    const listeningAt = performance.now()
    // A steady 100 webhooks a second, each on a new connection as PagerDuty's deliveries
    // come, from the moment the port opens until 2 s after the database is open.
    const acked = new Set<string>()
    const outcomes = new Map<string, number>()
    let firstAckedAt = null as number | null
    const inFlight: Promise<void>[] = []
    for (let i = 0; startedAt === null || performance.now() - startedAt < 2000; i++) {
      expect(performance.now() - spawnedAt).toBeLessThan(60_000)
      const id = `first-start-${i}`
      inFlight.push(fetch(`http://127.0.0.1:${port}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body([id]), keepalive: false, signal: AbortSignal.timeout(10_000) })
        .then(async (response) => {
          await response.arrayBuffer()
          if (response.status === 202) {
            acked.add(id)
            firstAckedAt ??= performance.now()
          }
          return String(response.status)
        }, (error: unknown) => `connection failed: ${(error as { code?: string }).code ?? String(error)}`)
        .then((outcome) => { outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1) }))
      await Bun.sleep(10)
    }
    await Promise.all(inFlight)
    expect(Object.fromEntries(outcomes)).toEqual({ 202: inFlight.length })
    // The port opened, and webhooks were acknowledged, while PGlite was still creating its
    // database (before, the port opened only once it had: deliveries until then were refused).
    expect(startedAt).not.toBeNull()
    expect(listeningAt).toBeLessThan(startedAt ?? 0)
    expect(firstAckedAt ?? Infinity).toBeLessThan(startedAt ?? 0)
    expect(await untilLoaded(sql, acked, 'first-start', 60_000)).toEqual({ acked: acked.size, loaded: acked.size, lost: 0, duplicated: 0 })
  } finally {
    await sql.end({ timeout: 1 })
    proc.kill('SIGTERM')
  }
  expect(await proc.exited).toBe(0)
  expect(output).toContain('"msg":"accepting webhooks; opening the embedded database"')
}, 120_000)
