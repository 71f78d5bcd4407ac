/**
 * `bun bench/accept-alone.ts [rounds] [seconds] [VARIANT ...]`: the accept path on its own,
 * A/B against the bare Bun.serve, alternating, with the database unreachable (so the writer
 * only waits). `EVENTS=n` sends n messages per webhook (default 1): the bare server parses the
 * same body, so the two ratios of one host split the accept path's cost per request and per
 * event.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BINARY, ROOT, UNREACHABLE_DATABASE, startBare, startCollector } from './lib/processes.ts'
import { writeTemplate } from './lib/template.ts'
import { parseVariant } from './lib/variant.ts'
import { runWrk } from './lib/wrk.ts'

const rounds = Number(process.argv[2] ?? 3)
const seconds = Number(process.argv[3] ?? 8)
// Further arguments: collector variants, as bench/cost.ts takes them (bench/lib/variant.ts).
const variants = (process.argv.length > 4 ? process.argv.slice(4) : ['-']).map(parseVariant)
const command = process.env.FROM_SOURCE ? [process.execPath, path.join(ROOT, 'src/main.ts')] : [BINARY]
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-alone-'))
const events = Number(process.env.EVENTS ?? 1)
const template = writeTemplate(work, events)
try {
  for (let r = 0; r < rounds; r++) {
    const bare = await startBare()
    const b = await runWrk({ url: `${bare.base}/com.pagerduty/v1`, connections: 64, threads: 2, seconds, template, prefix: `b${r}${Date.now()}` })
    await bare.stop()
    const line = [`bare ${Math.round(b.okRps)}`]
    for (const variant of variants) {
      const c = await startCollector({ ...variant.env, DATABASE_URL: UNREACHABLE_DATABASE, DATA_DIR: fs.mkdtempSync(path.join(work, 'd-')) }, variant.command ?? command)
      const a = await runWrk({ url: `${c.base}/com.pagerduty/v1`, connections: 64, threads: 2, seconds, template, prefix: `a${r}${Date.now()}` })
      await c.stop()
      line.push(`${variant.label} ${Math.round(a.okRps)} (non2xx ${a.non2xx}, p99 ${a.p99Ms.toFixed(1)} ms) ratio ${(a.okRps / b.okRps).toFixed(2)}`)
    }
    process.stdout.write(`${line.join('  ')}\n`)
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
