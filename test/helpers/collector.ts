/**
 * Helpers that run the collector for real: in-process (`startCollector`) or as a spawned
 * process (`bun src/main.ts` or `dist/collector`), for signal and crash tests.
 */
import path from 'node:path'
import postgres from 'postgres'
import { loadConfig, type Config } from '../../src/config.ts'
import { startCollector, type Collector } from '../../src/app.ts'
import { createLog } from '../../src/log.ts'
import { startLoad, untilLoaded, type Load, type Tally } from './traffic.ts'

export const ROOT = path.join(import.meta.dir, '..', '..')
export const BUN = process.execPath

/** A Config from environment-style settings, as `collector serve` would build it. */
export function testConfig(env: Record<string, string>): Config {
  const loaded = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', BATCH_MAX_WAIT_MS: '5', ...env }, [])
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => `${i.option}: ${i.message}`).join('; '))
  return loaded.config
}

export async function startInProcess(env: Record<string, string>): Promise<Collector> {
  const config = testConfig(env)
  return startCollector(config, createLog(config.logLevel))
}

export interface Spawned {
  proc: ReturnType<typeof Bun.spawn>
  url: string
  output(): string
}

/** Spawns the CLI and waits for its "collector started" log line. */
export async function spawnCollector(env: Record<string, string>, command: string[] = [BUN, path.join(ROOT, 'src/main.ts')], args: string[] = []): Promise<Spawned> {
  const proc = Bun.spawn([...command, ...args], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', BATCH_MAX_WAIT_MS: '5', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  const decoder = new TextDecoder()
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const url = await new Promise<string>((resolve, reject) => {
    // A liveness bound, not a speed check: creating the embedded database at a first start took
    // 36 s on this 2-core machine while other suites ran (2-6 s when it is quiet).
    const timer = setTimeout(() => reject(new Error(`collector did not start:\n${text}`)), 90_000)
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) { clearTimeout(timer); reject(new Error(`collector exited before starting:\n${text}`)); return }
        text += decoder.decode(value)
        const m = /"msg":"collector started".*?"url":"([^"]+)"/.exec(text)
        if (m) { clearTimeout(timer); resolve((m[1] as string).replace(/\/$/, '')); break }
      }
      // Keep draining stdout so the child never blocks on a full pipe.
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        text += decoder.decode(value)
      }
    })()
  })
  return { proc, url, output: () => text }
}

/**
 * Spawns `command` (the CLI, or the CLI under strace) on `port` with stdout gathered, without
 * waiting for it to start: for the moments before "collector started".
 */
export function spawnStarting(command: string[], env: Record<string, string>): { proc: ReturnType<typeof Bun.spawn>; output(): string } {
  const proc = Bun.spawn(command, {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  let output = ''
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) output += decoder.decode(chunk)
  })()
  return { proc, output: () => output }
}

/** Starts a collector on the embedded database in `dataDir`, waits for `ids` to load, stops it (exit 0), and tells what loaded. */
export async function loadedAtNextStart(dataDir: string, ids: ReadonlySet<string>, prefix: string): Promise<Tally> {
  const again = await spawnCollector({ DATA_DIR: dataDir })
  const sql = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    return await untilLoaded(sql, ids, prefix)
  } finally {
    await sql.end({ timeout: 1 })
    again.proc.kill('SIGTERM')
    if (await again.proc.exited !== 0) throw new Error(`the collector did not stop cleanly:\n${again.output()}`)
  }
}

export function postJson(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < until) {
    try {
      if (await check()) return
    } catch (error) {
      last = error // e.g. the table is not created yet
    }
    await Bun.sleep(50)
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`)
}

/**
 * Clients post (`startLoad`) while the collector is killed with SIGKILL `rounds` times, each
 * after a random pause in [minMs, maxMs), and started again: for the crash tests. Returns
 * the load (stopped) and the collector running at the end.
 */
export async function killRoundsUnderLoad(env: Record<string, string>, options: { rounds: number; minMs: number; maxMs: number; prefix: string; settleMs: number }): Promise<{ load: Load; collector: Spawned }> {
  let collector = await spawnCollector(env)
  let url = collector.url
  const load = startLoad({ url: () => url, clients: 4, prefix: options.prefix })
  try {
    for (let round = 0; round < options.rounds; round++) {
      await Bun.sleep(options.minMs + Math.floor(Math.random() * (options.maxMs - options.minMs)))
      collector.proc.kill('SIGKILL')
      if (await collector.proc.exited !== 137) throw new Error(`the collector did not die of SIGKILL:\n${collector.output()}`)
      collector = await spawnCollector(env)
      url = collector.url
    }
    await Bun.sleep(options.settleMs)
  } finally {
    await load.stop()
  }
  return { load, collector }
}
