/**
 * A stop signal in the first moments of a start: `systemctl stop` just after a start, or a
 * restart loop. The handlers were installed only once `serve` ran, after the program had
 * loaded (0.1-0.2 s) and checked its settings, and a signal before that killed the process
 * by the default action: status 143, no log line, and after SIGHUP a death systemd counts as
 * clean, so `Restart=on-failure` left the service down. The entry now holds the signals from
 * its first statement.
 *
 * The first tests hold a start at a known point of its checks: DATABASE_URL names a
 * certificate file that is a FIFO, which the start reads (src/db/tls.ts) until the test
 * writes the certificate into it. The last sends SIGTERM at a few delays after spawn.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { tempDir } from '../helpers/database.ts'
import { BUN, ROOT, loadedAtNextStart, spawnCollector } from '../helpers/collector.ts'
import { v1Body } from '../helpers/traffic.ts'

const dirs: string[] = []
const dir = (name: string) => { const d = tempDir(name); dirs.push(d); return d }
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }) })

const CA = fs.readFileSync(path.join(ROOT, 'test/fixtures/tls/ca.pem'))

/** The write end of `fifo`, once the process at `pid` has opened it to read (a liveness bound, no timing). */
async function whenReading(fifo: string, proc: ReturnType<typeof Bun.spawn>): Promise<number> {
  const until = Date.now() + 60_000
  for (;;) {
    try {
      return fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
    } catch (error) {
      // ENXIO: nobody reads it yet.
      if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error
    }
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited before reading the certificate (${proc.exitCode ?? proc.signalCode})`)
    if (Date.now() > until) throw new Error('the certificate file was never read')
    await Bun.sleep(5)
  }
}

/** Bit `number - 1` of one of /proc's signal masks of `pid` (SigCgt: caught; ShdPnd: sent, not yet delivered). */
function signalBit(pid: number, mask: 'SigCgt' | 'ShdPnd', number: number): boolean {
  let status = ''
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return false // gone
  }
  const hex = new RegExp(`${mask}:\\s*([0-9a-f]+)`).exec(status)?.[1] ?? '0'
  return ((BigInt(`0x${hex}`) >> BigInt(number - 1)) & 1n) === 1n
}

const NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const

async function text(stream: unknown): Promise<string> {
  return await new Response(stream as ReadableStream<Uint8Array>).text()
}

test.each([
  ['serve', 'SIGTERM', 0],
  ['serve', 'SIGINT', 0],
  // A restart: 129, which the unit's Restart=on-failure restarts.
  ['serve', 'SIGHUP', 129],
  // A one-off command ends at once with the status a death by the signal has, but through
  // process.exit, so that its 'exit' handlers run.
  ['migrate', 'SIGTERM', 143],
] as const)('`%s` given %s while it checks its settings: exits %d, not killed by it, and opens nothing', async (command, signal, status) => {
  const dataDir = dir('signal-at-start')
  const fifo = path.join(dataDir, 'ca.fifo')
  expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
  const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), command], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', DATA_DIR: path.join(dataDir, 'data'), DATABASE_URL: `postgres://postgres@127.0.0.1:1/none?sslmode=verify-full&sslrootcert=${fifo}` },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  try {
    const fd = await whenReading(fifo, proc)
    proc.kill(signal)
    // The start goes on only once it has the certificate: the signal is delivered while it
    // waits (or, without a handler, kills it; the write then meets EPIPE).
    while (signalBit(proc.pid, 'ShdPnd', NUMBERS[signal])) await Bun.sleep(1)
    try {
      fs.writeSync(fd, CA)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error
    }
    fs.closeSync(fd)
    expect(await proc.exited).toBe(status)
    expect(proc.signalCode).toBeNull()
    const [out, err] = await Promise.all([text(proc.stdout), text(proc.stderr)])
    if (command === 'serve') {
      expect(out.split('\n').filter(Boolean).map((line) => { const { msg, signal } = JSON.parse(line); return { msg, signal } }))
        .toEqual([{ msg: 'stopped during the start, before it opened the spool or the port: nothing was acknowledged', signal }])
    }
    expect(err).toBe('')
    // Nothing opened: no lock, no spool, no database (`migrate` on DATABASE_URL does not use DATA_DIR).
    const data = path.join(dataDir, 'data')
    expect(fs.existsSync(data) ? fs.readdirSync(data) : []).toEqual([])
  } finally {
    proc.kill('SIGKILL')
    await proc.exited
  }
}, 90_000)

test('a restart loop of SIGTERMs at a few delays after spawn, over a spool with a backlog: each ends cleanly (exit 0), or dies before the runtime ran any of the collector; what was acknowledged loads once at the next start', async () => {
  const dataDir = dir('signal-at-start-loop')
  // A backlog: acknowledged, then SIGKILL (whatever had not loaded waits in the spool).
  const first = await spawnCollector({ DATA_DIR: dataDir })
  const ids = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const id = `startloop-${i}`
    const response = await fetch(`${first.url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body([id]) })
    expect(response.status).toBe(202)
    ids.add(id)
  }
  first.proc.kill('SIGKILL')
  expect(await first.proc.exited).toBe(137)

  const outcomes: string[] = []
  for (const delayMs of [0, 20, 50, 100, 150, 250, 400, 800]) {
    const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'serve'], {
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', DATA_DIR: dataDir },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    if (delayMs > 0) await Bun.sleep(delayMs)
    // Whether the process catches SIGTERM yet: once it does, it must never die of it.
    const caught = signalBit(proc.pid, 'SigCgt', NUMBERS.SIGTERM)
    proc.kill('SIGTERM')
    const status = await proc.exited
    const [out, err] = await Promise.all([text(proc.stdout), text(proc.stderr)])
    const said = out.split('\n').filter(Boolean).map((line) => JSON.parse(line).msg as string)
    outcomes.push(`${delayMs} ms: ${proc.signalCode ?? status} ${said.at(0) ?? '(nothing said)'}`)
    if (proc.signalCode !== null) {
      // Before the entry's first statement: nothing of the collector's ran.
      expect(caught).toBe(false)
      expect([proc.signalCode, out, err]).toEqual(['SIGTERM', '', ''])
    } else {
      expect(status).toBe(0)
      expect(err).toBe('')
      expect(said.at(-1)).toMatch(/^(stopped during the start|collector stopped)/)
    }
  }
  console.log(outcomes.join('\n'))

  expect(await loadedAtNextStart(dataDir, ids, 'startloop')).toEqual({ acked: 20, loaded: 20, lost: 0, duplicated: 0 })
}, 240_000)
