/**
 * The design the spool replaced, for the benchmark's comparison: the collector's own HTTP
 * handler and adapter, but a 202 only once the request's events have COMMITTED to the
 * database (concurrent requests share a batch, two batches in flight, as the writer does),
 * instead of once they are fsync'd in the spool. `bun bench/ack-after-commit-server.ts URL`
 * prints its port; the benchmark drives it with the same wrk load as the collector.
 */
import { createRegistry } from '../src/adapters/registry.ts'
import { createPagerDutyAdapter } from '../src/adapters/pagerduty/index.ts'
import { connect } from '../src/db/connect.ts'
import { migrate } from '../src/db/migrate.ts'
import { createHandler } from '../src/http/server.ts'
import type { RecordBody } from '../src/sink/records.ts'
import { createLazySink } from '../src/sink/lazy.ts'

const url = process.argv[2]
if (!url) throw new Error('usage: bun bench/ack-after-commit-server.ts DATABASE_URL')
const sql = connect({ url, dialect: 'postgres' })
const sink = createLazySink({ sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(sql, 'postgres', 'atomic') } })
await sink.write({ events: [], badRows: [] }) // migrate before the load starts

interface Waiting { body: RecordBody; resolve: () => void; reject: (error: unknown) => void }
let waiting: Waiting[] = []
let inFlight = 0

function flush(): void {
  while (inFlight < 2 && waiting.length > 0) {
    const group = waiting.splice(0, 1000)
    inFlight++
    sink.write({ events: group.flatMap((w) => w.body.events), badRows: group.flatMap((w) => w.body.badRows) })
      .then(() => { for (const w of group) w.resolve() }, (error) => { for (const w of group) w.reject(error) })
      .finally(() => { inFlight--; flush() })
  }
}

const handler = createHandler({
  registry: createRegistry([createPagerDutyAdapter('bench')]),
  append: (body) => new Promise<void>((resolve, reject) => { waiting.push({ body, resolve, reject }); flush() }),
  ready: () => ({ ready: true, body: {} }),
  webhookSecrets: [],
  maxBodyBytes: 1024 * 1024,
  shuttingDown: () => false,
  log: () => {},
})
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handler })
process.stdout.write(`${server.port}\n`)
process.on('SIGTERM', () => { server.stop(true); void sql.end({ timeout: 1 }).then(() => process.exit(0)) })
