/** Starting and stopping the processes a benchmark phase measures. */
import fs from 'node:fs'
import path from 'node:path'

export const ROOT = path.join(import.meta.dir, '..', '..')
export const BINARY = path.join(ROOT, 'dist', 'collector')

/**
 * The `Environment=KEY=VALUE` settings of deploy/collector.service, except those with systemd
 * specifiers (DATA_DIR=%S/...): the bench runs the binary as the unit does.
 */
export function unitEnvironment(unitText: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of unitText.split('\n')) {
    const m = /^Environment=([A-Za-z_][A-Za-z0-9_]*)=(\S*)$/.exec(line.trim())
    if (m && !(m[2] as string).includes('%')) env[m[1] as string] = m[2] as string
  }
  return env
}
export const UNIT_ENV = unitEnvironment(fs.readFileSync(path.join(ROOT, 'deploy', 'collector.service'), 'utf8'))

/** A database URL nobody listens on: the writer only waits, every request is answered from the spool. */
export const UNREACHABLE_DATABASE = 'postgres://postgres@127.0.0.1:1/unreachable'

/**
 * A port for a spawned collector, below Linux's default ephemeral range (32768-60999): the
 * load generators' own outgoing connections take ports from that range, and one of them
 * could hold the port a collector is about to listen on.
 */
export const randomPort = (): number => 20_000 + Math.floor(Math.random() * 12_000)

export interface Running { pid: number; base: string; stop(): Promise<number>; proc: ReturnType<typeof Bun.spawn>; spawnedAt?: number }

/** Polls GET /ready until it answers 200; returns the milliseconds since `since`. */
export async function waitReady(base: string, since: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    try {
      const r = await fetch(`${base}/ready`)
      await r.arrayBuffer()
      if (r.status === 200) return performance.now() - since
    } catch { /* not listening yet */ }
    if (performance.now() - since > timeoutMs) throw new Error(`${base} not ready after ${timeoutMs} ms`)
    await Bun.sleep(5)
  }
}

/** Starts the collector on a random port, trying another port if that one is taken. */
export async function startCollector(env: Record<string, string>, command: string[] = [BINARY]): Promise<Running & { readyMs: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env, command, randomPort())
    } catch (error) {
      if (attempt >= 3 || !String(error).includes('exited')) throw error
    }
  }
}

async function startOnce(env: Record<string, string>, command: string[], port: number): Promise<Running & { readyMs: number }> {
  const started = performance.now()
  const proc = Bun.spawn([...command, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...UNIT_ENV, ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const base = `http://127.0.0.1:${port}`
  const exited = proc.exited.then((code) => { throw new Error(`collector exited with ${code} before /ready`) })
  const readyMs = await Promise.race([waitReady(base, started), exited]).catch(async (error) => { proc.kill('SIGKILL'); throw error })
  return { pid: proc.pid, base, proc, readyMs, spawnedAt: started, stop: () => stopProcess(proc) }
}

/**
 * Milliseconds from spawn until /ready reports the database up: connected, tables created
 * when missing and read (the writer prepares them at start), ready to load, not only to accept.
 */
export async function waitDatabaseUp(c: Running, timeoutMs = 60_000): Promise<number> {
  const since = c.spawnedAt ?? performance.now()
  for (;;) {
    const body = (await (await fetch(`${c.base}/ready`)).json()) as { database?: { state?: string } }
    if (body.database?.state === 'up') return performance.now() - since
    if (performance.now() - since > timeoutMs) throw new Error(`${c.base}: database not up after ${timeoutMs} ms`)
    await Bun.sleep(5)
  }
}

export async function startBare(): Promise<Running> {
  return startPortPrinter([path.join(ROOT, 'bench', 'bare-server.ts')])
}

/** The collector's handler acknowledging after the database commit (bench/ack-after-commit-server.ts). */
export async function startAckAfterCommit(databaseUrl: string): Promise<Running> {
  return startPortPrinter([path.join(ROOT, 'bench', 'ack-after-commit-server.ts'), databaseUrl])
}

/** A bench server that prints its port on its first line. */
async function startPortPrinter(args: string[]): Promise<Running> {
  const proc = Bun.spawn([process.execPath, ...args], { stdout: 'pipe', stderr: 'inherit' })
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const { value } = await reader.read()
  const port = Number(new TextDecoder().decode(value).trim())
  return { pid: proc.pid, base: `http://127.0.0.1:${port}`, proc, stop: () => stopProcess(proc) }
}

async function stopProcess(proc: ReturnType<typeof Bun.spawn>): Promise<number> {
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  const code = await proc.exited
  clearTimeout(timer)
  return code
}

/** The paced (open-loop) generator in its own process, so it does not share our event loop. */
export async function runPaced(url: string, rate: number, seconds: number, template: string, prefix: string): Promise<{ ok: number; non2xx: number; errors: number; achieved_rps: number; p50_ms: number; p99_ms: number; max_ms: number; send_lag_p99_ms: number; send_lag_max_ms: number }> {
  const proc = Bun.spawn([process.execPath, path.join(ROOT, 'bench', 'paced.ts'), url, String(rate), String(seconds), template, prefix], { stdout: 'pipe', stderr: 'inherit' })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`paced load generator failed: ${out}`)
  return JSON.parse(out.trim().split('\n').at(-1) as string)
}
