/**
 * `bun bench/backlog-start.ts [SECONDS]`: how long a start takes with a large backlog. The
 * spool is filled with the database unreachable (wrk -c64 for SECONDS, default 20), then the
 * collector is started again (still unreachable) and timed to /ready: once after dropping the
 * page cache (as root; else skipped), once warm. Builds nothing: run `npm run build` first.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startCollector, UNREACHABLE_DATABASE } from './lib/processes.ts'
import { writeTemplate } from './lib/template.ts'
import { ensureWrk, runWrk } from './lib/wrk.ts'

ensureWrk()
const seconds = Number(process.argv[2] ?? 20)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-backlog-start-'))
try {
  const dataDir = path.join(work, 'data')
  fs.mkdirSync(dataDir)
  const template = writeTemplate(work, 1)
  const filling = await startCollector({ DATABASE_URL: UNREACHABLE_DATABASE, DATA_DIR: dataDir })
  const load = await runWrk({ url: `${filling.base}/com.pagerduty/v1`, connections: 64, threads: 2, seconds, template, prefix: `backlog-${Date.now()}` })
  await filling.stop()
  const bytes = Number(Bun.spawnSync(['du', '-sb', path.join(dataDir, 'spool')]).stdout.toString().split('\t')[0])
  console.log(`backlog: ${load.requests.toLocaleString('en-US')} webhooks, spool ${(bytes / 1e9).toFixed(2)} GB`)
  const runs: [string, boolean][] = [['cold page cache', process.getuid?.() === 0], ['warm page cache', true]]
  for (const [label, possible] of runs) {
    if (!possible) { console.log(`${label}: skipped (dropping the page cache needs root)`); continue }
    if (label.startsWith('cold')) Bun.spawnSync(['sh', '-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'])
    const started = await startCollector({ DATABASE_URL: UNREACHABLE_DATABASE, DATA_DIR: dataDir })
    console.log(`${label}: /ready ${started.readyMs.toFixed(0)} ms after the start`)
    await started.stop()
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
