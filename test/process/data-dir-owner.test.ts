/**
 * `sudo collector spool replay` on the DATA_DIR of a service that runs as another user (its
 * systemd DynamicUser) with the embedded database: the files the replay makes as root are
 * given back to the directory's owner, so the service starts again. Before, PGlite aborted at
 * that start (a file of root's it could not open) and systemd restarted it in a loop.
 * Needs root and setpriv (util-linux; it execs, so signals reach the collector itself); the
 * service's user here is `nobody`.
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { BUN, ROOT, spawnCollector } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p))
const nobody = (() => {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))
  const [, , uid, gid] = line?.split(':') ?? []
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : null
})()
const canRun = process.geteuid?.() === 0 && setpriv !== undefined && nobody !== null

const rootOwned = (dir: string): string[] => {
  const found: string[] = []
  const visit = (at: string) => {
    for (const e of fs.readdirSync(at, { withFileTypes: true })) {
      const file = path.join(at, e.name)
      if (fs.lstatSync(file).uid === 0) found.push(path.relative(dir, file))
      if (e.isDirectory()) visit(file)
    }
  }
  visit(dir)
  return found
}

test.skipIf(!canRun)('a replay run as root on the service user\'s DATA_DIR leaves no file of root\'s there, and the service starts again', async () => {
  const owner = nobody as { uid: number; gid: number }
  const dataDir = path.join(tempDir('owner'), 'data')
  fs.mkdirSync(dataDir, { mode: 0o700 })
  fs.chownSync(dataDir, owner.uid, owner.gid)
  fs.chownSync(path.dirname(dataDir), owner.uid, owner.gid)
  const asService = [setpriv as string, `--reuid=${owner.uid}`, `--regid=${owner.gid}`, '--clear-groups', '--', BUN, path.join(ROOT, 'src/main.ts')]
  const env = { DATA_DIR: dataDir, HOME: '/tmp' }
  const service = await spawnCollector(env, asService)
  service.proc.kill('SIGTERM')
  expect(await service.proc.exited).toBe(0)
  expect(rootOwned(dataDir)).toEqual([])

  const file = path.join(path.dirname(dataDir), 'replay.ndjson')
  fs.writeFileSync(file, `${JSON.stringify(JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')))}\n`)
  const replay = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'spool', 'replay', file], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(replay.stdout).text(), new Response(replay.stderr).text(), replay.exited])
  expect(out).toBe('replayed 1 lines: 1 events (1 new, 0 already loaded), 0 bad\n')
  expect(code).toBe(0)
  expect(err).toMatch(/^collector: gave what root owns in .* back to its owner \(uid \d+\), so the service can still open it\n$/)
  expect(rootOwned(dataDir)).toEqual([])

  const again = await spawnCollector(env, asService)
  try {
    const ready = await (await fetch(`${again.url}/ready`)).json() as { database: { state: string } }
    expect(ready.database.state).not.toBe('down')
  } finally {
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
  }
}, 90_000)

test.skipIf(!canRun)('serve run as root and ended by process.exit() (a second signal while a stop during its start waits for a request) still gives the files back', async () => {
  const owner = nobody as { uid: number; gid: number }
  const dataDir = path.join(tempDir('owner-exit'), 'data')
  fs.mkdirSync(dataDir, { mode: 0o700 })
  fs.chownSync(dataDir, owner.uid, owner.gid)
  const port = 34_000 + Math.floor(Math.random() * 2000)
  const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts')], { env: { PATH: process.env.PATH ?? '', HOME: '/tmp', DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error' }, stdout: 'pipe', stderr: 'pipe' })
  // The embedded database takes a second or more to create its cluster: signal inside it,
  // once root has made files there.
  const deadline = Date.now() + 30_000
  // Not the start-up write probe (.write-test-PID), made and removed before serve takes its
  // signals: a SIGTERM then ends the process by default (143, the probe left behind).
  const made = () => rootOwned(dataDir).filter((f) => !f.startsWith('.write-test-'))
  while (made().length === 0 && Date.now() < deadline) await Bun.sleep(10)
  expect(made().length).toBeGreaterThan(0)
  // A webhook whose body is still arriving: the first signal's stop waits for it (up to 10 s),
  // the second ends the process there.
  let upload: Awaited<ReturnType<typeof Bun.connect>> | null = null
  while (!upload && Date.now() < deadline) upload = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } }).catch(() => null)
  upload?.write('POST /com.pagerduty/v1 HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"messages":')
  await Bun.sleep(200)
  proc.kill('SIGTERM')
  await Bun.sleep(200)
  proc.kill('SIGTERM')
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
  upload?.end()
  expect(code).toBe(1)
  expect(err).toContain('back to its owner')
  expect(rootOwned(dataDir)).toEqual([])
}, 60_000)
