/**
 * The collector from source with a heap probe, for `SOAK_SOURCE=1 bun bench/soak.ts`: every
 * 30 s, after a full collection, one JSON line of bun:jsc's heapStats (heap size, object
 * count, the object types' counts) to SOAK_HEAP_FILE, so that what grows over a soak can be
 * named (Timeout, Promise, a class of ours). Not for production: the forced collections cost.
 */
import fs from 'node:fs'
import { heapStats } from 'bun:jsc'
import { main } from '../../src/cli.ts'
import { holdStopSignals } from '../../src/stop-signals.ts'

const file = process.env.SOAK_HEAP_FILE
if (file) {
  setInterval(() => {
    Bun.gc(true)
    const s = heapStats()
    fs.appendFileSync(file, `${JSON.stringify({ t: Math.round(performance.now() / 1000), heapSize: s.heapSize, objectCount: s.objectCount, types: s.objectTypeCounts, protected: s.protectedObjectTypeCounts })}\n`)
  }, 30_000).unref()
}
process.exit(await main(process.argv.slice(2), process.env, holdStopSignals()))
