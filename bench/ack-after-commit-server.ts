/**
 * The design the spool replaced, for the benchmark's comparison: the collector's own HTTP
 * handler and adapter, but a 202 only once the request's events have COMMITTED to the
 * database (concurrent requests share a batch, two batches in flight, as the writer does),
 * instead of once they are fsync'd in the spool. `bun bench/ack-after-commit-server.ts URL`
 * prints its port; the benchmark drives it with the same wrk load as the collector.
 */
import { createRegistry, rebuildWith } from '../src/adapters/registry.ts'
import { createPagerDutyAdapter } from '../src/adapters/pagerduty/index.ts'
import { connect } from '../src/db/connect.ts'
import { migrate } from '../src/db/migrate.ts'
import { createHandler } from '../src/http/server.ts'
import { decodeRecord, type RecordBody } from '../src/sink/records.ts'
import type { Batch } from '../src/sink/batch.ts'
import { createLazySink } from '../src/sink/lazy.ts'

const url = process.argv[2]
if (!url) throw new Error('usage: bun bench/ack-after-commit-server.ts DATABASE_URL')
const sql = connect({ url, dialect: 'postgres' })
const sink = createLazySink({ sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(sql, 'postgres', 'atomic') } })
await sink.write({ events: [], badRows: [] }) // migrate before the load starts

const registry = createRegistry([createPagerDutyAdapter('bench')])
const rebuild = rebuildWith(registry)
interface Waiting { decoded: RecordBody; resolve: () => void; reject: (error: unknown) => void }
let waiting: Waiting[] = []
let inFlight = 0

function flush(): void {
  while (inFlight < 2 && waiting.length > 0) {
    const group = waiting.splice(0, 1000)
    inFlight++
    const batch: Batch = { events: [], badRows: [] }
    const position = { segment: 0, offset: 0 }
    // The rows the handler built, as the collector's writer takes them from memory.
    for (const w of group) decodeRecord({ position, next: position, events: 0, payload: new Uint8Array(0), memo: w.decoded }, batch, rebuild)
    sink.write(batch)
      .then(() => { for (const w of group) w.resolve() }, (error) => { for (const w of group) w.reject(error) })
      .finally(() => { inFlight--; flush() })
  }
}

const handler = createHandler({
  registry,
  append: (_record, _events, decoded) => new Promise<void>((resolve, reject) => { waiting.push({ decoded, resolve, reject }); flush() }),
  ready: () => ({ ready: true, body: {} }),
  webhookSecrets: [],
  maxBodyBytes: 1024 * 1024,
  shuttingDown: () => false,
  log: () => {},
})
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler })
process.stdout.write(`${server.port}\n`)
process.on('SIGTERM', () => { server.stop(true); void sql.end({ timeout: 1 }).then(() => process.exit(0)) })
