/**
 * `bun bench/first-start.ts [RATE] [SECONDS] [--source]`: `npm start` with PagerDuty already
 * sending. Spawns dist/collector (or, with --source, `bun src/main.ts` with an event-loop
 * stall probe, bench/lib/lag-probe.ts) on an empty DATA_DIR and posts RATE v1 webhooks a
 * second (default 500, for 30 s), each on a new connection, from the spawn on; prints the
 * outcomes second by second (a status, or how the connection failed), the log lines and
 * the stalls against the same clock, and whether every 202 loaded. Builds nothing.
 */
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { BINARY, ROOT } from './lib/processes.ts'

const [rateText, secondsText] = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const rate = Number(rateText ?? 500)
const seconds = Number(secondsText ?? 30)
const source = process.argv.includes('--source')
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-first-start-'))
// Below Linux's ephemeral range (32768-60999): this run opens thousands of connections, and one
// whose local port is the collector's takes it (bind fails) or connects to itself (a false "listening").
const port = 20_000 + Math.floor(Math.random() * 12_000)
const template = fs.readFileSync(path.join(ROOT, 'test/fixtures/pagerduty/v1/incident.trigger__pagerduty-developer-docs.json'), 'utf8')
const messageId = 'a52d3f80-d9a7-11e5-8db3-22000ad5aec9'
const t0 = Date.now()
const since = () => Date.now() - t0
const command = source ? [process.execPath, '--preload', path.join(import.meta.dir, 'lib/lag-probe.ts'), path.join(ROOT, 'src/main.ts'), 'serve'] : [BINARY, 'serve']
const proc = Bun.spawn(command, { env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', LAG_T0_MS: String(t0) }, stdout: 'pipe', stderr: 'pipe' })
const lines: string[] = []
const collect = async (stream: ReadableStream<Uint8Array>) => {
  let text = ''
  for await (const chunk of stream) {
    text += new TextDecoder().decode(chunk)
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n')) { lines.push(`${since()} ms ${text.slice(0, i)}`); text = text.slice(i + 1) }
  }
}
void collect(proc.stdout as ReadableStream<Uint8Array>)
void collect(proc.stderr as ReadableStream<Uint8Array>)
const accepts = () => new Promise<boolean>((resolve) => {
  const socket = net.connect(port, '127.0.0.1')
  socket.once('connect', () => { socket.destroy(); resolve(true) })
  socket.once('error', () => resolve(false))
})
let listeningAt = -1
void (async () => { while (!(await accepts())) await Bun.sleep(5); listeningAt = since() })()

const total = Math.round(rate * seconds)
const results: { at: number; ms: number; outcome: string }[] = []
const started = performance.now()
let sent = 0
await new Promise<void>((resolve) => {
  let done = 0
  const fire = (i: number) => {
    const at = since()
    const began = performance.now()
    fetch(`http://127.0.0.1:${port}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: template.replace(messageId, `first-start-${i}`), keepalive: false, signal: AbortSignal.timeout(10_000) })
      .then(async (r) => { await r.arrayBuffer(); return String(r.status) }, (e: unknown) => (e as { code?: string }).code ?? (e as Error).name)
      .then((outcome) => { results[i] = { at, ms: performance.now() - began, outcome }; if (++done === total) resolve() })
  }
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000))
    while (sent < due) fire(sent++)
    if (sent < total) setTimeout(tick, 1)
  }
  tick()
})
const tally = (of: typeof results) => {
  const counts: Record<string, number> = {}
  for (const r of of) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1
  return counts
}
const overall = tally(results)
console.log(JSON.stringify({ rate, seconds, listening_ms: listeningAt, outcomes: overall, max_ms: Math.round(Math.max(...results.map((r) => r.ms))) }))
for (let s = 0; s * 1000 <= (results.at(-1)?.at ?? 0); s++) {
  const second = results.filter((r) => Math.floor(r.at / 1000) === s)
  console.log(`${s}-${s + 1} s: ${JSON.stringify(tally(second))} max ${Math.round(Math.max(0, ...second.map((r) => r.ms)))} ms`)
}
let loaded = 0
for (let i = 0; i < 120 && loaded < (overall['202'] ?? 0); i++) {
  const ready = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.json() as Promise<{ writer: { loaded_events: number } }>, () => null)
  loaded = ready?.writer.loaded_events ?? 0
  await Bun.sleep(500)
}
console.log(JSON.stringify({ acknowledged: overall['202'] ?? 0, loaded }))
proc.kill('SIGTERM')
await proc.exited
console.log(lines.map((l) => l.slice(0, 200)).join('\n'))
fs.rmSync(dataDir, { recursive: true, force: true })
