/**
 * Loading through the real path without HTTP: fixtures through the PagerDuty adapter into
 * spool records, a spool drained by the writer into a sink, the sink chosen by dialect.
 */
import path from 'node:path'
import type postgres from 'postgres'
import type { Dialect } from '../../src/config.ts'
import { createPagerDutyAdapter } from '../../src/adapters/pagerduty/index.ts'
import { migrate, type MigrateOptions } from '../../src/db/migrate.ts'
import type { RequestContext } from '../../src/events/event.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { encodeRecord, type RecordBody } from '../../src/sink/records.ts'
import { createWriter, type WriterStatus } from '../../src/sink/writer.ts'
import { openSpool } from '../../src/spool/spool.ts'
import { eventually } from './collector.ts'
import { tempDir } from './database.ts'
import { fixtureRequests } from './pagerduty-requests.ts'

const adapter = createPagerDutyAdapter('0.0.0-test')

/** A fixed request context: the same body always yields the same event and bad-row ids. */
export function contextFor(name: string, receivedAt = new Date('2026-03-01T12:00:00Z')): RequestContext {
  return { receivedAt, query: { aid: 'test' }, ipAddress: '192.0.2.1', userAgent: 'PagerDuty-Webhook/test', webhookId: null, requestId: `test-request/${name}` }
}

/** The record a webhook body becomes, as the HTTP edge would spool it. */
export function recordFor(name: string, body: string, ctx: RequestContext = contextFor(name)): RecordBody {
  const result = adapter.toEvents({ body: JSON.parse(body), rawBody: body, ctx })
  if (!result.ok) throw new Error(`${name}: ${result.message}`)
  return { events: result.events, badRows: result.badRows }
}

/**
 * Every fixture of every version as spool records, as PagerDuty sent them: captured requests
 * with their X-Webhook-Id, the docs' v3 data types one delivery per GA type, pings included
 * (they become no event).
 */
export function fixtureRecords(): RecordBody[] {
  return (['v1', 'v2', 'v3'] as const).flatMap((v) => fixtureRequests(v).map((r) => {
    const name = `${v}/${r.name}`
    return recordFor(name, r.body, { ...contextFor(name), webhookId: r.headers['x-webhook-id'] ?? null })
  }))
}

export interface DrainOptions {
  sql: postgres.Sql
  dialect: Dialect
  schema?: string
  maxRows?: number
  migrateOptions?: MigrateOptions
}

/** Spools `records` into a fresh spool and lets the writer drain it; returns the writer's status. */
export async function drain(records: readonly RecordBody[], options: DrainOptions): Promise<WriterStatus> {
  const schema = options.schema ?? 'atomic'
  const spool = openSpool({ dir: path.join(tempDir('drain'), 'spool'), maxBytes: 2 ** 34, segmentBytes: 64 * 1024 ** 2 })
  for (const r of records) await spool.append(encodeRecord(r), r.events.length)
  const sink = createLazySink({
    sql: options.sql,
    dialect: options.dialect,
    schema,
    migrate: async () => { await migrate(options.sql, options.dialect, schema, options.migrateOptions) },
  })
  const errors: string[] = []
  const writer = createWriter({
    spool, sink, maxRows: options.maxRows ?? 4, maxWaitMs: 0, backoff: { initialMs: 10, maxMs: 50 },
    log: (level, msg, fields) => { if (level !== 'info') errors.push(`${msg} ${JSON.stringify(fields)}`) },
  })
  writer.start()
  try {
    await eventually(() => {
      const [at, end] = [spool.checkpoint(), spool.end()]
      return at.segment === end.segment && at.offset === end.offset
    }, 60_000, `the writer to drain (${errors.join('; ')})`)
  } finally {
    await writer.stop(0)
    await spool.close()
  }
  return writer.status()
}
