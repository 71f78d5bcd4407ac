/**
 * `bun bench/big-webhooks.ts [CONCURRENT=16] [BIN=dist/collector]`: peak memory with the
 * largest webhooks the collector takes. CONCURRENT v1 webhooks of MAX_BODY_BYTES (1 MiB) at
 * once, each ~15,000 tiny messages (the most events a body can hold), posted to the binary
 * with the unit's environment against a scratch database on DATABASE_URL's server (default
 * the local one); VmHWM after they are answered and again once they are loaded. Not a target
 * of the issue (that is ordinary webhooks at full load): a bound on what hostile or unusual
 * input costs. Builds nothing: run `npm run build` first.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { BINARY, startCollector } from './lib/processes.ts'

const concurrent = Number(process.argv[2] ?? 16)
const binary = process.argv[3] ?? BINARY
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `pdc_big_${process.pid}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(serverUrl)
url.pathname = `/${name}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-big-'))
const mib = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024

/** A v1 body just under 1 MiB of the smallest messages the schema takes, ids unique per body. */
function body(k: number): string {
  const parts: string[] = []
  for (let size = 16, i = 0; size < 1024 * 1024 - 100; i++) {
    const m = `{"type":"incident.trigger","id":"big-${k}-${i}","data":{"incident":{}}}`
    parts.push(m)
    size += m.length + 1
  }
  return `{"messages":[${parts.join(',')}]}`
}

try {
  const c = await startCollector({ DATABASE_URL: url.href, DATA_DIR: work }, [binary])
  const bodies = Array.from({ length: concurrent }, (_, k) => body(k))
  const ready = mib(c.pid)
  const answers = await Promise.all(bodies.map((b) => fetch(`${c.base}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b })
    .then(async (r) => ({ status: r.status, text: await r.text() }), (error: unknown) => ({ status: 0, text: String(error) }))))
  const statuses = answers.map((a) => a.status)
  // Only what was acknowledged loads: past 32 MiB waiting for the spool's fsync the rest get
  // 503 (the disk is not keeping up), which PagerDuty retries.
  const events = bodies.reduce((n, b, i) => n + (statuses[i] === 202 ? b.match(/"type"/g)?.length ?? 0 : 0), 0)
  for (const a of answers.filter((x) => x.status !== 202).slice(0, 3)) console.log(`not 202: ${a.status} ${a.text.slice(0, 300)}`)
  const answered = mib(c.pid)
  const sql = postgres(url.href, { max: 1, onnotice: () => {} })
  const started = performance.now()
  let loaded = 0
  while (loaded < events && performance.now() - started < 300_000) {
    await Bun.sleep(500)
    loaded = Number((await sql`select count(*)::int as n from atomic.events`)[0]?.n ?? 0)
  }
  const drained = mib(c.pid)
  await sql.end()
  await c.stop()
  console.log(`${concurrent} webhooks of 1 MiB, ${events.toLocaleString('en-US')} events acknowledged: answered ${statuses.filter((s) => s === 202).length} x 202`)
  console.log(`VmHWM: ${ready.toFixed(1)} MiB when ready, ${answered.toFixed(1)} MiB once answered, ${drained.toFixed(1)} MiB once ${loaded.toLocaleString('en-US')} events were loaded (${((performance.now() - started) / 1000).toFixed(1)} s)`)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
}
