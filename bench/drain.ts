/**
 * `bun bench/drain.ts [events]`: the writer alone. Fills a spool with N unique v1 events
 * (stored as the collector stores them: the request as received, built by the real adapter
 * in the writer), then drains it into a fresh database on DATABASE_URL (default
 * the local PostgreSQL) and prints events/s committed. No HTTP, no load generator: what the
 * sink and the database can do, for comparing writer changes. `COMPRESSION=pglz` (or `lz4`)
 * sets the JSON columns' compression after migrating, to compare the two.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { createPagerDutyAdapter } from '../src/adapters/pagerduty/index.ts'
import { createRegistry, rebuildWith } from '../src/adapters/registry.ts'
import { connect } from '../src/db/connect.ts'
import { migrate } from '../src/db/migrate.ts'
import { createLazySink } from '../src/sink/lazy.ts'
import { encodeRequest } from '../src/sink/records.ts'
import { createWriter } from '../src/sink/writer.ts'
import { openSpool } from '../src/spool/spool.ts'
import { cpuSecondsOf } from './lib/machine.ts'

const total = Number(process.argv[2] ?? 50_000)
const batchRows = Number(process.env.BATCH_MAX_ROWS ?? 1000)
const batchBytes = Number(process.env.BATCH_MAX_BYTES ?? 256 * 1024)
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `pdc_drain_${process.pid}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(serverUrl)
url.pathname = `/${name}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-drain-'))
const sql = connect({ url: url.href, dialect: 'postgres' })
try {
  const fixture = JSON.parse(fs.readFileSync(path.join(import.meta.dir, '../test/fixtures/pagerduty/v1/incident.trigger__pagerduty-developer-docs.json'), 'utf8')) as { messages: Record<string, unknown>[] }
  const adapter = createPagerDutyAdapter('bench')
  // MEMO=1: the records keep what they decode to in memory, as records the collector's own HTTP
  // edge appended do while the writer keeps up (no rebuild in the writer).
  const memo = process.env.MEMO === '1'
  const spool = openSpool({ dir: path.join(work, 'spool'), maxBytes: 2 ** 40, segmentBytes: 64 * 2 ** 20, memoMaxBytes: memo ? 2 ** 40 : 0, checkpointIntervalMs: Number(process.env.CHECKPOINT_INTERVAL_MS ?? 100) })
  const appends: Promise<void>[] = []
  for (let i = 0; i < total; i++) {
    const body = { messages: [{ ...fixture.messages[0], id: `drain-${i}` }] }
    const ctx = { receivedAt: new Date(), query: {}, ipAddress: '127.0.0.1', userAgent: 'bench', webhookId: null, requestId: crypto.randomUUID() }
    const rawBody = JSON.stringify(body)
    const r = adapter.toEvents({ body, rawBody, ctx })
    if (!r.ok) throw new Error(r.message)
    appends.push(spool.append(encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx }, rawBody), r.events.length, memo ? { events: r.events, badRows: r.badRows } : undefined))
    if (appends.length >= 1000) await Promise.all(appends.splice(0))
  }
  await Promise.all(appends)
  const sink = createLazySink({ sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(sql, 'postgres', 'atomic') } })
  await sink.write({ events: [], badRows: [] }) // connect and migrate before the clock starts
  // COMPRESSION=pglz: the shredded tables' JSON columns back on PostgreSQL's default method
  // (migrating sets lz4 where the server has it, sql/postgres/10_json_compression.sql), for A/B.
  if (process.env.COMPRESSION) {
    for (const { table, column } of await sql`select table_name as table, column_name as column from information_schema.columns where table_schema = 'atomic' and data_type = 'jsonb'`) {
      await sql.unsafe(`alter table atomic.${table} alter column "${column}" set compression ${process.env.COMPRESSION}`)
    }
  }
  const writer = createWriter({ spool, sink, rebuild: rebuildWith(createRegistry([adapter])), maxRows: batchRows, maxBatchBytes: batchBytes, maxWaitMs: 0, log: () => {} })
  const started = performance.now()
  const cpu0 = process.cpuUsage()
  const pg0 = cpuSecondsOf('postgres')
  writer.start()
  while (spool.unreadEvents() > 0) await Bun.sleep(10)
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  const pgUs = ((cpuSecondsOf('postgres') - pg0) * 1e6) / total
  await writer.stop(0)
  await spool.close()
  process.stdout.write(`drained ${total} events in ${seconds.toFixed(2)} s: ${Math.round(total / seconds)} events/s (BATCH_MAX_ROWS=${batchRows}, BATCH_MAX_BYTES=${batchBytes}, ${writer.status().batches} batches, ${memo ? 'from memory' : 'rebuilt from the spool'}); writer CPU ${((cpu.user + cpu.system) / total).toFixed(1)} us/event, PostgreSQL CPU ${pgUs.toFixed(1)} us/event (all its processes), peak RSS ${Math.round(Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024)} MiB (includes filling the spool)\n`)
} finally {
  await sql.end()
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
  fs.rmSync(work, { recursive: true, force: true })
}
