/**
 * The file-descriptor limit, for real: a collector started under `ulimit -n 64` and held at
 * it by idle connections. Bun stops accepting there and says nothing (and spins on accept,
 * oven-sh/bun#32705); the collector's own watch logs the warning, and the all-clear once the
 * connections are gone, after which webhooks are taken again. /metrics shows the figures.
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { BUN, ROOT, eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { v1Body } from '../helpers/traffic.ts'

const LIMIT = 64
const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1])

test.skipIf(process.platform !== 'linux')(`at the open-file limit (${LIMIT}): a warning, then the all-clear, then webhooks taken again`, async () => {
  const dataDir = tempDir('fd-limit')
  // The database is not needed (webhooks wait in the spool); an unreachable one keeps the test server-free.
  const collector = await spawnCollector({ DATA_DIR: dataDir, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable' },
    ['sh', '-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`, BUN, path.join(ROOT, 'src/main.ts')])
  const sockets: net.Socket[] = []
  const logged = (msg: string) => collector.output().split('\n').filter((l) => l.includes(`"msg":"${msg}`)).map((l) => JSON.parse(l) as { level: string; open_files: number; max_open_files: number })
  try {
    const before = await (await fetch(`${collector.url}/metrics`)).text()
    expect(gauge(before, 'process_max_fds')).toBe(LIMIT)
    expect(gauge(before, 'process_open_fds')).toBeLessThan(LIMIT * 0.5)
    expect(gauge(before, 'process_cpu_seconds_total')).toBeGreaterThan(0)

    const { port, hostname } = new URL(collector.url)
    for (let i = 0; i < LIMIT + 8; i++) {
      const socket = net.connect(Number(port), hostname)
      socket.on('error', () => {})
      sockets.push(socket)
    }
    await eventually(() => logged('open files are near the limit').length > 0, 15_000, 'the warning')
    const [warning] = logged('open files are near the limit')
    expect(warning?.level).toBe('warn')
    expect(warning?.max_open_files).toBe(LIMIT)
    expect(warning?.open_files).toBeGreaterThanOrEqual(LIMIT * 0.9)

    for (const socket of sockets) socket.destroy()
    await eventually(() => logged('open files are back under the limit').length > 0, 15_000, 'the all-clear')
    expect((await postJson(`${collector.url}/com.pagerduty/v1`, v1Body(['fd-limit-1']))).status).toBe(202)
    const after = await (await fetch(`${collector.url}/metrics`)).text()
    expect(gauge(after, 'process_open_fds')).toBeLessThan(LIMIT * 0.8)
    expect([logged('open files are near the limit').length, logged('open files are back under the limit').length]).toEqual([1, 1])
  } finally {
    for (const socket of sockets) socket.destroy()
    collector.proc.kill('SIGKILL')
    await collector.proc.exited
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}, 60_000)
