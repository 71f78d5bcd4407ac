/** Runs wrk with bench/wrk/post.lua and reads the JSON line its `done` hook prints. */
import path from 'node:path'

export interface WrkResult { requests: number; seconds: number; non2xx: number; errors: number; rps: number; okRps: number; p50Ms: number; p99Ms: number }

const SCRIPT = path.join(import.meta.dir, '..', 'wrk', 'post.lua')

export function ensureWrk(): string {
  const found = Bun.which('wrk')
  if (found) return found
  if (process.getuid?.() === 0 && Bun.which('apt-get')) {
    process.stderr.write('bench: installing wrk (apt-get install -y wrk)\n')
    const run = Bun.spawnSync(['apt-get', 'install', '-y', 'wrk'], { stdout: 'ignore', stderr: 'inherit' })
    const again = run.exitCode === 0 && Bun.which('wrk')
    if (again) return again
  }
  throw new Error('wrk is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`, then `npm run bench` again')
}

export async function runWrk(opts: { url: string; connections: number; threads: number; seconds: number; template: string; prefix: string; delayMs?: number }): Promise<WrkResult> {
  const proc = Bun.spawn([ensureWrk(), `-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '10s', '-s', SCRIPT, opts.url, '--', opts.prefix, opts.template], {
    env: { ...process.env, ...(opts.delayMs !== undefined ? { WRK_DELAY_MS: String(opts.delayMs) } : {}) },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const out = await new Response(proc.stdout).text()
  await proc.exited
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '))
  if (!line) throw new Error(`wrk printed no summary:\n${out}\n${await new Response(proc.stderr).text()}`)
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>
  const seconds = (j.duration_us as number) / 1e6
  const requests = j.requests as number
  const errors = (j.connect as number) + (j.read as number) + (j.write as number) + (j.timeout as number)
  return { requests, seconds, non2xx: j.non2xx as number, errors, rps: requests / seconds, okRps: (requests - (j.non2xx as number)) / seconds, p50Ms: (j.p50_us as number) / 1000, p99Ms: (j.p99_us as number) / 1000 }
}
