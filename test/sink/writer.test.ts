/**
 * The writer against a real database (TEST_DATABASE_URL's server, else embedded PGlite):
 * spool -> batch -> one transaction, idempotent by event_id, adapting to a table deployed
 * from Snowplow's own DDL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import path from 'node:path'
import { createPagerDutyAdapter } from '../../src/adapters/pagerduty/index.ts'
import type { AdapterResult } from '../../src/adapters/types.ts'
import { migrate } from '../../src/db/migrate.ts'
import type { RequestContext } from '../../src/events/event.ts'
import { createLazySink } from '../../src/sink/lazy.ts'
import { encodeRecord, oldestReceivedMs, receivedMs } from '../../src/sink/records.ts'
import { chunkBatch, createWriter, splitBatch, type Writer } from '../../src/sink/writer.ts'
import type { Batch, Sink } from '../../src/sink/batch.ts'
import { openSpool, type Spool } from '../../src/spool/spool.ts'
import { eventually } from '../helpers/collector.ts'
import { databasePrefix, freshDatabase, hasServer, tempDir, type TestDatabase } from '../helpers/database.ts'
import postgres from 'postgres'
import { COLUMN_TYPES } from '../../src/db/connect.ts'
import { fixtureFiles, fixtureJson } from '../helpers/fixtures.ts'
import { errorMessage } from '../../src/errors.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('writer') })
afterAll(async () => { await db.drop() })

const adapter = createPagerDutyAdapter('test')
const ctx = (n: number): RequestContext => ({ receivedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)), query: { aid: 'writer' }, ipAddress: null, userAgent: null, webhookId: null, requestId: crypto.randomUUID() })
const build = (body: unknown, n = 0) => {
  const r: AdapterResult = adapter.toEvents({ body, rawBody: JSON.stringify(body), ctx: ctx(n) })
  if (!r.ok) throw new Error(r.message)
  return r
}

function harness(schema: string, maxRows = 100, refreshColumnsMs?: number): { spool: Spool; writer: Writer; append(body: unknown, n?: number): Promise<void> } {
  const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  const sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) }, refreshColumnsMs })
  const writer = createWriter({ spool, sink, maxRows, maxWaitMs: 50, log: () => {} })
  return {
    spool,
    writer,
    async append(body, n = 0) {
      const r = build(body, n)
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    },
  }
}

const count = async (schema: string, table: string) => (await db.sql.unsafe(`select count(*)::int as n from "${schema}"."${table}"`))[0]?.n as number

/** A v1 body whose one message has its own id. */
const message = (id: string) => {
  const body = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
  body.messages = [{ ...body.messages[0], id }]
  return body
}

/** A v1 message with its own id, its incident created `on` (the fixture's is in 2016). */
const createdOn = (id: string, on: string): Record<string, unknown> => {
  const m = message(id).messages[0] as { data: { incident: { created_on: string } } }
  m.data.incident.created_on = on
  return m
}

describe('the writer', () => {
  test('loads every v1 fixture once, even when each is delivered twice, in batches shared by concurrent requests', async () => {
    const h = harness('w_dedupe')
    const bodies = fixtureFiles('v1').map((f) => fixtureJson('v1', f) as { messages: unknown[] })
    const messages = bodies.reduce((n, b) => n + b.messages.length, 0)
    // Appended before the writer starts, as concurrent requests would be: they share batches.
    await Promise.all([...bodies, ...bodies].map((b, i) => h.append(b, i)))
    h.writer.start()
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the spool to drain')
    await h.writer.stop(1000)
    await h.spool.close()
    expect(await count('w_dedupe', 'events')).toBe(messages)
    expect(await count('w_dedupe', 'com_pagerduty_incident_1')).toBe(messages)
    const status = h.writer.status()
    expect([status.loadedEvents, status.duplicateEvents, status.batches]).toEqual([messages, messages, 1])
  })

  test('one record of more events than BATCH_MAX_ROWS (a v1 webhook of many messages) goes in statements of at most that many; a failure part way loads it once', async () => {
    const schema = 'w_chunks'
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const lazy = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    const sizes: number[] = []
    let failSecond = true
    const sink: Sink = {
      ...lazy,
      async write(batch) {
        sizes.push(batch.events.length)
        // The second statement of the first try fails as a dropped connection would.
        if (failSecond && sizes.length === 2) { failSecond = false; throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }) }
        return lazy.write(batch)
      },
    }
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {}, backoff: { initialMs: 10, maxMs: 50 } })
    const body = message('m')
    body.messages = Array.from({ length: 250 }, (_, i) => ({ ...body.messages[0], id: `m-${i}` }))
    const r = build(body)
    await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    writer.start()
    await eventually(() => spool.unreadEvents() === 0 && !spool.pending(), 20_000, 'the spool to drain')
    await writer.stop(1000)
    await spool.close()
    expect(sizes).toEqual([100, 100, 100, 50]) // the failed part again, not the one that committed before it
    expect([await count(schema, 'events'), await count(schema, 'com_pagerduty_incident_1')]).toEqual([250, 250])
    // The 100 the first part committed count as loaded, not as duplicates of themselves.
    const status = writer.status()
    expect([status.loadedEvents, status.duplicateEvents, status.batches]).toEqual([250, 0, 1])
  })

  test('a checkpoint that cannot be written (ENOSPC) is logged once, then as a reminder with a count, and its recovery once', async () => {
    const schema = 'w_checkpoint_enospc'
    let full = false
    // The spool's hook before each checkpoint write fails as the write on a full disk does:
    // commits that arrive meanwhile share the failed write, so each batch's commit fails.
    const spool = openSpool({
      dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20,
      beforeCheckpoint: async () => { if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }) },
    })
    const lazy = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = []
    const writer = createWriter({ spool, sink: lazy, maxRows: 1, maxWaitMs: 0, log: (level, msg, fields) => { lines.push({ level, msg, ...(fields ? { fields } : {}) }) }, repeatedLogMs: 2000 })
    const checkpointLines = () => lines.filter((l) => l.msg.startsWith('writer: checkpoint')).map(({ level, msg, fields }) => ({ level, msg, suppressed: fields?.suppressed, failed_commits: fields?.failed_commits }))
    let n = 0
    /** One record, its own batch, loaded and its commit settled (failed or not). */
    const loadOne = async () => {
      const before = lines.length
      await spool.append(encodeRecord(build(message(`enospc-${n++}`))), 1)
      await eventually(() => !spool.pending() || lines.length > before, 10_000, 'the batch to commit')
      await Bun.sleep(20)
    }
    writer.start()
    await loadOne()
    full = true
    for (let i = 0; i < 6; i++) await loadOne()
    const failed = { level: 'error', msg: 'writer: checkpoint write failed, retrying', failed_commits: undefined }
    // Six batches' checkpoints failed: one line, not six.
    expect(checkpointLines()).toEqual([{ ...failed, suppressed: undefined }])
    await Bun.sleep(2100)
    await loadOne()
    expect(checkpointLines()).toEqual([{ ...failed, suppressed: undefined }, { ...failed, suppressed: 5 }])
    full = false
    await loadOne()
    await loadOne()
    const recovered = { level: 'info', msg: 'writer: checkpoint written again', suppressed: undefined, failed_commits: 7 }
    expect(checkpointLines()).toEqual([{ ...failed, suppressed: undefined }, { ...failed, suppressed: 5 }, recovered])
    // The disk fills again: said at once, a new episode.
    full = true
    await loadOne()
    expect(checkpointLines()).toEqual([{ ...failed, suppressed: undefined }, { ...failed, suppressed: 5 }, recovered, { ...failed, suppressed: undefined }])
    full = false
    await writer.stop(1000)
    await spool.close()
    expect(await count(schema, 'events')).toBe(n)
  })

  test('a stop between two statements of one record counts the statement that committed as loaded, and keeps the record for the next start', async () => {
    const schema = 'w_chunks_stop'
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const lazy = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    let writes = 0
    const sink: Sink = {
      ...lazy,
      async write(batch) {
        // The first statement commits; then the database goes away until the stop.
        if (++writes > 1) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })
        return lazy.write(batch)
      },
    }
    const loadedMetric: number[] = []
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {}, backoff: { initialMs: 10, maxMs: 50 }, onCommit: (r) => { loadedMetric.push(r.loaded) } })
    const body = message('s')
    body.messages = Array.from({ length: 250 }, (_, i) => ({ ...body.messages[0], id: `s-${i}` }))
    const r = build(body)
    await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    writer.start()
    await eventually(() => writes >= 3, 20_000, 'the second statement to be retried')
    await writer.stop(0)
    expect(await count(schema, 'events')).toBe(100)
    const status = writer.status()
    // The 100 inserted are this process's to count (collector_events_loaded_total); the next
    // start, replaying the record, counts them as duplicates.
    expect([status.loadedEvents, status.duplicateEvents, status.batches, loadedMetric]).toEqual([100, 0, 0, [100]])
    expect([spool.pending(), spool.checkpoint()]).toEqual([true, { segment: spool.end().segment, offset: 0 }])
    await spool.close()
  })

  test('a stop with two batches in flight counts what they commit after it, though their records stay in the spool', async () => {
    const schema = 'w_stop_inflight'
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const lazy = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    await lazy.prepare?.()
    let writing = 0
    // Each statement answers 300 ms late, as a busy database does at a SIGTERM.
    const sink: Sink = { ...lazy, async write(batch) { writing++; await Bun.sleep(300); return lazy.write(batch) } }
    const writer = createWriter({ spool, sink, maxRows: 5, maxWaitMs: 0, concurrency: 2, log: () => {} })
    for (let n = 0; n < 4; n++) {
      const r = build({ messages: Array.from({ length: 5 }, (_, i) => ({ ...message('x').messages[0], id: `inflight-${n}-${i}` })) }, n)
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    }
    writer.start()
    await eventually(() => writing === 2, 5_000, 'two batches in flight')
    await writer.stop(0)
    // Both commit (a stop does not cancel a statement sent), and both are this process's to count.
    await eventually(async () => await count(schema, 'events') === 10, 5_000, 'both batches to commit')
    // The first settled as the stop came (its checkpoint moved); the second stays in the spool.
    expect([writer.status().loadedEvents, writer.status().batches, spool.unreadEvents()]).toEqual([10, 1, 15])
    await spool.close()
  })

  test('a replay of the same spool records after a restart loads nothing twice', async () => {
    const body = fixtureJson('v1', 'incident.resolve__pagerduty-developer-docs.json')
    for (let round = 0; round < 2; round++) {
      const h = harness('w_replay')
      await h.append(body)
      h.writer.start()
      await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the spool to drain')
      await h.writer.stop(1000)
      await h.spool.close()
    }
    expect([await count('w_replay', 'events'), await count('w_replay', 'com_pagerduty_incident_1')]).toEqual([1, 1])
  })

  test('a table deployed from Snowplow\'s own DDL still loads, escalation policy in its undotted columns', async () => {
    const schema = 'w_legacy'
    await migrate(db.sql, 'postgres', schema) // events and bad_rows; then replace the incident table
    await db.sql.unsafe(`drop table "${schema}".com_pagerduty_incident_1 cascade`)
    // Snowplow's incident_1.sql columns (iglu-central), Redshift encodings removed.
    const v = (name: string, type = 'varchar(255)') => `"${name}" ${type}`
    const cols = [
      'schema_vendor varchar(128) not null', 'schema_name varchar(128) not null', 'schema_format varchar(128) not null', 'schema_version varchar(128) not null',
      'root_id char(36) not null', 'root_tstamp timestamp not null', 'ref_root varchar(255) not null', 'ref_tree varchar(1500) not null', 'ref_parent varchar(255) not null',
      'id varchar(255)', 'created_on timestamp', 'type varchar(255)',
      ...['id', 'incident_number'].map((c) => v(`data.incident.${c}`)), v('data.incident.created_on', 'timestamp'),
      ...['status', 'html_url', 'incident_key', 'service.id', 'service.name', 'service.html_url', 'service.deleted_at', 'escalation_policyid', 'escalation_policyname', 'escalation_policydeleted_at',
        'assigned_to_user.id', 'assigned_to_user.name', 'assigned_to_user.email', 'assigned_to_user.html_url', 'trigger_summary_data.description', 'trigger_summary_data.subject',
        'trigger_summary_data.client', 'trigger_details_html_url', 'trigger_type'].map((c) => v(`data.incident.${c}`)),
      v('data.incident.last_status_change_on', 'timestamp'),
      ...['last_status_change_by.id', 'last_status_change_by.name', 'last_status_change_by.email', 'last_status_change_by.html_url', 'number_of_escalations'].map((c) => v(`data.incident.${c}`)),
      v('data.incident.assigned_to', 'varchar(2048)'),
      ...['resolved_by_user.id', 'resolved_by_user.name', 'resolved_by_user.email', 'resolved_by_user.html_url'].map((c) => v(`data.incident.${c}`)),
    ]
    await db.sql.unsafe(`create table "${schema}".com_pagerduty_incident_1 (${cols.join(', ')})`)
    const h = harness(schema)
    await h.append(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'))
    h.writer.start()
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the spool to drain')
    await h.writer.stop(1000)
    await h.spool.close()
    const rows = await db.sql.unsafe(`select "data.incident.escalation_policyid" as id, "data.incident.escalation_policyname" as name, "data.incident.incident_number" as number, "data.incident.created_on" as created from "${schema}".com_pagerduty_incident_1`)
    expect(rows.map((r) => ({ ...r }) as Record<string, unknown>)).toEqual([{ id: 'P5ARF12', name: 'Database Team', number: '2126', created: '2016-02-22 21:02:55' }])
  })

  test('strings longer than their column are cut to its width; the JSON column keeps the whole message', async () => {
    const body = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: { data: { incident: { status: string } } }[] }
    const long = `résolu-${'é'.repeat(300)}`
    ;(body.messages[0] as { data: { incident: { status: string } } }).data.incident.status = long
    const h = harness('w_width')
    await h.append(body)
    h.writer.start()
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the spool to drain')
    await h.writer.stop(1000)
    await h.spool.close()
    const [row] = await db.sql.unsafe(`select "data.incident.status" as status, raw_message->'data'->'incident'->>'status' as raw from w_width.com_pagerduty_incident_1`)
    expect([row?.status, row?.raw]).toEqual([Array.from(long).slice(0, 255).join(''), long])
  })


  /** Loads one message, runs `change` on the tables while the writer runs, then loads another. */
  async function loadAcross(schema: string, change: string, after: unknown = message('after'), before: unknown = message('before'), refreshColumnsMs?: number): Promise<Writer> {
    const h = harness(schema, 100, refreshColumnsMs)
    h.writer.start()
    await h.append(before)
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the first event to load')
    await db.sql.unsafe(change)
    await h.append(after)
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the event after the change to load')
    await h.writer.stop(1000)
    await h.spool.close()
    return h.writer
  }

  test('a column dropped while it runs: the next batch is planned from the columns as they are, no restart', async () => {
    const schema = 'w_dropped_column'
    const writer = await loadAcross(schema, `alter table "${schema}".com_pagerduty_incident_1 drop column "data.incident.incident_key"`)
    const rows = await db.sql.unsafe(`select id, raw_message->'data'->'incident'->>'incident_key' as key from "${schema}".com_pagerduty_incident_1 order by id`)
    // The dropped column's value is still in raw_message.
    expect(rows.map((r) => [r.id, r.key])).toEqual([['after', '17a02d0d370d4add8e53132199614121'], ['before', '17a02d0d370d4add8e53132199614121']])
    expect(writer.status().loadedEvents).toBe(2)
  })

  test('a table dropped while it runs is created again and loads', async () => {
    const schema = 'w_dropped_table'
    await loadAcross(schema, `drop table "${schema}".com_pagerduty_incident_1 cascade`)
    expect((await db.sql.unsafe(`select id from "${schema}".com_pagerduty_incident_1`)).map((r) => r.id)).toEqual(['after'])
    expect(await count(schema, 'events')).toBe(2)
    // The view went with the table (cascade) and came back with it.
    expect(await db.sql.unsafe(`select incident_id from "${schema}".pagerduty_incident_events`)).toHaveLength(1)
  })

  test.each([
    ['a NOT NULL column a DBA added without a default', 'w_not_null',
      `alter table w_not_null.events add column tenant text not null default 'acme'; alter table w_not_null.events alter column tenant drop default`,
      `alter table w_not_null.events alter column tenant set default 'acme'`],
  ])('%s refuses every row: the events wait in the spool, none goes to bad rows, and they load once the table is fixed', async (_, schema, change, fix) => {
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(change)
    const h = harness(schema)
    await h.append(message(`${schema}-1`))
    await h.append(message(`${schema}-2`))
    h.writer.start()
    await eventually(() => h.writer.status().database === 'down', 20_000, 'the write to fail')
    await Bun.sleep(500) // more retries
    expect([await count(schema, 'events'), await count(schema, 'bad_rows'), h.spool.unreadEvents()]).toEqual([0, 0, 2])
    expect(h.writer.status().lastError).toContain('the table refuses every row')
    await db.sql.unsafe(fix)
    await eventually(() => h.spool.unreadEvents() === 0, 40_000, 'the events to load after the fix')
    await h.writer.stop(1000)
    await h.spool.close()
    expect([await count(schema, 'events'), await count(schema, 'com_pagerduty_incident_1'), await count(schema, 'bad_rows')]).toEqual([2, 2, 0])
  })

  test('a table refusing every row is logged and shown by SQLSTATE and column, never with the row the database quotes (an e-mail, a title)', async () => {
    const schema = 'w_not_null_quiet'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table ${schema}.com_pagerduty_incident_1 add column tenant text not null default 'acme'; alter table ${schema}.com_pagerduty_incident_1 alter column tenant drop default`)
    const lines: string[] = []
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const sink = createLazySink({
      sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) },
      // As the collector logs it (src/app.ts).
      onTablesChanged: (error) => lines.push(JSON.stringify({ msg: 'the tables changed under the writer', error: errorMessage(error) })),
    })
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 50, log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })) })
    const r = build(message(`${schema}-1`))
    await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    writer.start()
    await eventually(() => writer.status().database === 'down' && lines.some((l) => l.includes('tables changed')), 20_000, 'the write to fail')
    await writer.stop(0)
    await spool.close()
    const status = writer.status().lastError ?? ''
    expect(status).toContain('SQLSTATE 23502')
    expect(status).toContain('column tenant')
    for (const text of [status, ...lines]) {
      expect(text).not.toContain('laura.haley@example.com')
      expect(text).not.toContain('Failing row')
    }
  })

  test('events the database refuses are logged once a minute per SQLSTATE, not a line each; every one goes to bad rows', async () => {
    const schema = 'w_rejected_log'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table ${schema}.com_pagerduty_incident_1 add constraint no_poison check (id not like 'poison-%')`)
    const lines: { msg: string; suppressed?: number; sqlstate?: unknown }[] = []
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 50, log: (_level, msg, fields) => lines.push({ msg, ...fields }) })
    for (const id of ['poison-1', 'fine-1', 'poison-2', 'poison-3', 'fine-2', 'poison-4', 'poison-5']) {
      const r = build(message(id))
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    }
    writer.start()
    await eventually(() => spool.unreadEvents() === 0, 20_000, 'the spool to drain')
    await writer.stop(1000)
    await spool.close()
    expect([await count(schema, 'events'), await count(schema, 'bad_rows'), writer.status().rejectedEvents]).toEqual([2, 5, 5])
    const rejected = lines.filter((l) => l.msg === 'database rejected an event: sent to bad rows')
    expect(rejected.map((l) => [l.sqlstate, l.suppressed])).toEqual([['23514', undefined]])
  })

  test('a row with no partition to go to (an incident older than every partition) goes to bad rows alone; the others load', async () => {
    const schema = 'w_partition'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table "${schema}".com_pagerduty_incident_1 rename to incident_before;
      create table "${schema}".com_pagerduty_incident_1 (like "${schema}".incident_before including defaults) partition by range ("data.incident.created_on");
      create table "${schema}".incident_2020s partition of "${schema}".com_pagerduty_incident_1 for values from ('2020-01-01') to ('2030-01-01')`)
    const h = harness(schema)
    for (const [id, on] of [['new-1', '2025-01-01T00:00:00Z'], ['old', '2016-02-22T21:02:55Z'], ['new-2', '2025-02-01T00:00:00Z']] as const) await h.append({ messages: [createdOn(id, on)] })
    h.writer.start()
    await eventually(() => h.spool.unreadEvents() === 0, 20_000, 'the batch to load')
    await h.writer.stop(1000)
    await h.spool.close()
    expect((await db.sql.unsafe(`select id from "${schema}".com_pagerduty_incident_1 order by id`)).map((r) => r.id)).toEqual(['new-1', 'new-2'])
    expect((await db.sql.unsafe(`select reason from "${schema}".bad_rows`)).map((r) => r.reason)).toEqual(['DATABASE_REJECTED'])
  })

  test('a replay of an event the database rejects counts no bad row: its bad row is in the table already', async () => {
    const schema = 'w_rejected_replay'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table "${schema}".com_pagerduty_incident_1 add constraint not_old check ("data.incident.created_on" >= '2020-01-01')`)
    const body = { messages: [createdOn('rejected-old', '2016-02-22T21:02:55Z')] }
    const drainOnce = async () => {
      const h = harness(schema)
      await h.append(body)
      h.writer.start()
      await eventually(() => h.spool.unreadEvents() === 0 && !h.spool.pending(), 20_000, 'the batch to load')
      await h.writer.stop(1000)
      await h.spool.close()
      const { rejectedEvents, badRows } = h.writer.status()
      return { rejectedEvents, badRows }
    }
    expect(await drainOnce()).toEqual({ rejectedEvents: 1, badRows: 1 })
    // Counted by the process that inserted its bad row: summed over restarts, the table's count.
    expect(await drainOnce()).toEqual({ rejectedEvents: 0, badRows: 0 })
    expect(await count(schema, 'bad_rows')).toBe(1)
  })

  test('an event the database rejects counts once when its batch is retried after the isolation stored its bad row', async () => {
    const schema = 'w_rejected_retry'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table "${schema}".com_pagerduty_incident_1 add constraint not_old check ("data.incident.created_on" >= '2020-01-01')`)
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const lazy = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    const r = build({ messages: [createdOn('retry-old', '2016-02-22T21:02:55Z'), createdOn('retry-new', '2025-01-01T00:00:00Z')] })
    const good = r.events[1]?.eventId
    let failed = false
    const sink: Sink = {
      ...lazy,
      async write(batch) {
        // The isolation's second half, after the first stored the rejected event's bad row,
        // fails as a dropped connection would: the whole batch is retried.
        if (!failed && batch.events.length === 1 && batch.events[0]?.eventId === good) { failed = true; throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }) }
        return lazy.write(batch)
      },
    }
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {}, backoff: { initialMs: 10, maxMs: 50 } })
    await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    writer.start()
    await eventually(() => spool.unreadEvents() === 0 && !spool.pending(), 20_000, 'the batch to load')
    await writer.stop(1000)
    await spool.close()
    expect(failed).toBe(true)
    expect([await count(schema, 'com_pagerduty_incident_1'), await count(schema, 'bad_rows')]).toEqual([1, 1])
    expect(writer.status().rejectedEvents).toBe(1)
  })

  // Two batches in flight and a slow information_schema (many other tables): a server.
  test.skipIf(!hasServer())('a column narrowed under two batches in flight: the second waits for the first one\'s re-read of the columns, no event goes to bad rows', async () => {
    const schema = 'w_narrowed_two'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`do $$ begin for i in 1..300 loop execute format('create table "${schema}".other_%s (%s)', i, (select string_agg('c' || j || ' text', ',') from generate_series(1, 40) j)); end loop; end $$`)
    const spool = openSpool({ dir: path.join(tempDir('writer-two'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    // Planned before the narrowing: the widths it knows are the old ones.
    const sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    await sink.prepare?.()
    await db.sql.unsafe(`alter table "${schema}".com_pagerduty_incident_1 alter column "data.incident.incident_key" type varchar(10) using left("data.incident.incident_key", 10)`)
    const writer = createWriter({ spool, sink, maxRows: 4, maxWaitMs: 0, concurrency: 2, backoff: { initialMs: 50, maxMs: 200 }, log: () => {} })
    for (let i = 0; i < 16; i++) {
      const r = build(message(`two-${i}`), i)
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    }
    writer.start()
    await eventually(() => spool.unreadEvents() === 0, 30_000, 'the events to load')
    await writer.stop(1000)
    await spool.close()
    expect([await count(schema, 'com_pagerduty_incident_1'), await count(schema, 'bad_rows'), writer.status().rejectedEvents]).toEqual([16, 0, 0])
  }, 60_000)

  // A second session's settings and pg_sleep: a PostgreSQL server.
  test.skipIf(!hasServer())('a batch slower than the server\'s statement_timeout is written in halves and loads, instead of timing out at every retry', async () => {
    const schema = 'w_statement_timeout'
    await migrate(db.sql, 'postgres', schema)
    // 20 ms per event: 40 events take 800 ms, ten take 200 ms, and the login's limit is 300 ms.
    await db.sql.unsafe(`create function "${schema}".slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.02); return new; end $$;
      create trigger slow before insert on "${schema}".events for each row execute function "${schema}".slow()`)
    const limited = postgres(db.url, { max: 2, onnotice: () => {}, types: COLUMN_TYPES, connection: { statement_timeout: 300 } })
    const spool = openSpool({ dir: path.join(tempDir('writer-timeout'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const sink = createLazySink({ sql: limited, dialect: 'postgres', schema, migrate: async () => { await migrate(limited, 'postgres', schema) } })
    const lines: string[] = []
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 50, log: (_level, msg) => { lines.push(msg) } })
    try {
      for (let i = 0; i < 40; i++) {
        const r = build(message(`slow-${i}`), i)
        await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
      }
      writer.start()
      await eventually(() => spool.unreadEvents() === 0, 40_000, 'the slow batch to load')
      expect([await count(schema, 'events'), await count(schema, 'bad_rows'), writer.status().rejectedEvents]).toEqual([40, 0, 0])
      expect(lines).toContain('a batch ran past the database\'s statement_timeout: writing it in smaller parts')
    } finally {
      await writer.stop(1000)
      await spool.close()
      await limited.end({ timeout: 1 })
    }
  }, 60_000)

  // incident_key is a varchar(255) the view does not read (a column the view reads cannot be retyped).
  const KEY = '17a02d0d370d4add8e53132199614121'

  test('a column narrowed while it runs: a longer value is cut to the new width and loads, not sent to bad rows', async () => {
    const schema = 'w_narrowed'
    const writer = await loadAcross(schema, `alter table "${schema}".com_pagerduty_incident_1 alter column "data.incident.incident_key" type varchar(10) using left("data.incident.incident_key", 10)`)
    const rows = await db.sql.unsafe(`select id, "data.incident.incident_key" as key from "${schema}".com_pagerduty_incident_1 order by id`)
    expect(rows.map((r) => [r.id, r.key])).toEqual([['after', KEY.slice(0, 10)], ['before', KEY.slice(0, 10)]])
    expect([await count(schema, 'bad_rows'), writer.status().rejectedEvents, writer.status().loadedEvents]).toEqual([0, 0, 2])
  })

  test('a column widened while it runs is used at its new width once the columns are read again', async () => {
    const schema = 'w_widened'
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(`alter table "${schema}".com_pagerduty_incident_1 alter column "data.incident.incident_key" type varchar(10)`)
    const writer = await loadAcross(schema, `alter table "${schema}".com_pagerduty_incident_1 alter column "data.incident.incident_key" type varchar(100)`, message('after'), message('before'), 0)
    const rows = await db.sql.unsafe(`select id, "data.incident.incident_key" as key from "${schema}".com_pagerduty_incident_1 order by id`)
    expect(rows.map((r) => [r.id, r.key])).toEqual([['after', KEY], ['before', KEY.slice(0, 10)]])
    expect(writer.status().loadedEvents).toBe(2)
  })

  /**
   * The database refuses a row for its data (here a CHECK constraint a DBA added): the batch is
   * split until the row is alone. A batch of one event and one bad row used to split into
   * itself and retry the same statement forever, stalling everything behind it.
   */
  test.each([
    ['an event, next to a bad row of the same request', 'w_poison_event', `alter table w_poison_event.com_pagerduty_incident_1 add constraint no_poison check (id <> 'poison')`],
    ['a bad row, next to an event of the same request', 'w_poison_bad', `alter table w_poison_bad.bad_rows add constraint no_poison check (payload not like '%"poison-bad"%')`],
  ])('%s, refused by the database, is isolated; the rest loads, and what follows', async (_, schema, constraint) => {
    await migrate(db.sql, 'postgres', schema)
    await db.sql.unsafe(constraint)
    const h = harness(schema)
    const body = message('poison')
    body.messages.push({ 'poison-bad': true })
    await h.append(body)
    await h.append(message('after'))
    h.writer.start()
    await eventually(() => h.spool.unreadEvents() === 0 && !h.spool.pending(), 20_000, 'the spool to drain')
    const loaded = h.writer.status().loadedEvents
    await h.writer.stop(1000)
    await h.spool.close()
    const ids = (await db.sql.unsafe(`select id from "${schema}".com_pagerduty_incident_1 order by id`)).map((r) => r.id)
    const bad = (await db.sql.unsafe(`select reason, payload is null as no_payload from "${schema}".bad_rows order by reason`)).map((r) => [r.reason, r.no_payload])
    if (schema === 'w_poison_event') {
      expect(ids).toEqual(['after'])
      expect(bad).toEqual([['DATABASE_REJECTED', false], ['UNKNOWN_WEBHOOK_VERSION', false]])
      expect(loaded).toBe(1)
    } else {
      // A bad row the database refuses is kept without its payload.
      expect(ids).toEqual(['after', 'poison'])
      expect(bad).toEqual([['UNKNOWN_WEBHOOK_VERSION', true]])
      expect(loaded).toBe(2)
    }
  })
})

describe('how far loading runs behind', () => {
  test('receipt times are read as rows carry them (UTC), the oldest of a batch from its first event and bad row', () => {
    expect(receivedMs('2026-03-01 12:00:00.250')).toBe(Date.UTC(2026, 2, 1, 12, 0, 0, 250))
    expect([receivedMs('not a time'), receivedMs(undefined), receivedMs(17)]).toEqual([null, null, null])
    const event = build(message('e'), 30).events
    const bad = build({ messages: [{ unknown: true }] }, 10).badRows
    expect(oldestReceivedMs({ events: event, badRows: [] })).toBe(Date.UTC(2026, 0, 1, 0, 0, 30))
    expect(oldestReceivedMs({ events: event, badRows: bad })).toBe(Date.UTC(2026, 0, 1, 0, 0, 10))
    expect(oldestReceivedMs({ events: [], badRows: [] })).toBeNull()
  })

  test('a restart with the database down: the status names the receipt of the oldest webhook waiting, read from the spool', async () => {
    const dir = path.join(tempDir('writer'), 'spool')
    const append = async (s: Spool, id: string, n: number) => {
      const r = build(message(id), n)
      await s.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    }
    // The run before: everything loaded. After the restart the checkpoint is at the end of
    // its segment and new records go to the next one.
    const before = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    await append(before, 'loaded', 1)
    await before.commit(before.end(), 1)
    await before.close()
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const down = postgres('postgres://postgres@127.0.0.1:1/unreachable', { max: 1, onnotice: () => {}, connect_timeout: 1 })
    const sink = createLazySink({ sql: down, dialect: 'postgres', schema: 'w_down', migrate: async () => { await migrate(down, 'postgres', 'w_down') } })
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {} })
    writer.start()
    try {
      await eventually(() => writer.status().database === 'down', 10_000, 'the database to be found down')
      // Asked before any webhook came (a scrape): nothing waits, and that is not kept.
      expect(writer.status().oldestUnloadedReceivedAt).toBeNull()
      // A record that would not decode says nothing and is passed over.
      await spool.append('not a record', 0)
      await append(spool, 'first', 7)
      await append(spool, 'second', 30)
      expect(writer.status().oldestUnloadedReceivedAt).toBe('2026-01-01T00:00:07.000Z')
    } finally {
      await writer.stop(0)
      await spool.close()
      await down.end({ timeout: 1 })
    }
  })

  test('a scrape asking again reads the spool again only once it has grown', async () => {
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    let reads = 0
    const counted: Spool = { ...spool, first: (from) => { reads++; return spool.first(from) } }
    const down = postgres('postgres://postgres@127.0.0.1:1/unreachable', { max: 1, onnotice: () => {}, connect_timeout: 1 })
    const sink = createLazySink({ sql: down, dialect: 'postgres', schema: 'w_reads', migrate: async () => { await migrate(down, 'postgres', 'w_reads') } })
    const writer = createWriter({ spool: counted, sink, maxRows: 100, maxWaitMs: 5, log: () => {} })
    try {
      await spool.append('not a record', 0)
      expect(writer.status().oldestUnloadedReceivedAt).toBeNull()
      const once = reads
      expect(once).toBeGreaterThan(0)
      for (let i = 0; i < 5; i++) writer.status()
      expect(reads).toBe(once)
      const r = build(message('dated'), 9)
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), 1)
      expect(writer.status().oldestUnloadedReceivedAt).toBe('2026-01-01T00:00:09.000Z')
      const found = reads
      for (let i = 0; i < 5; i++) writer.status()
      expect(reads).toBe(found)
    } finally {
      await spool.close()
      await down.end({ timeout: 1 })
    }
  })

  test.skipIf(!hasServer())('while a batch waits on the database, the status names its oldest webhook\'s receipt; the commit reports the delay', async () => {
    const schema = 'w_behind'
    await migrate(db.sql, 'postgres', schema)
    const spool = openSpool({ dir: path.join(tempDir('writer'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const sink = createLazySink({ sql: db.sql, dialect: 'postgres', schema, migrate: async () => { await migrate(db.sql, 'postgres', schema) } })
    const delays: (number | null)[] = []
    const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {}, onCommit: (r) => { delays.push(r.delaySeconds) } })
    for (const [id, n] of [['first', 0], ['second', 30]] as const) {
      const r = build(message(id), n)
      await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
    }
    // A lock the batch's insert waits on, held by another session.
    const blocker = postgres(db.url, { max: 1, onnotice: () => {} })
    const held = await blocker.reserve()
    try {
      await held`begin`
      await held.unsafe(`lock table ${schema}.com_pagerduty_incident_1 in share mode`)
      // Read from the spool before the writer starts, from the batch in flight after.
      expect(writer.status().oldestUnloadedReceivedAt).toBe('2026-01-01T00:00:00.000Z')
      writer.start()
      await eventually(() => writer.status().database === 'up', 10_000, 'the tables to be checked')
      await Bun.sleep(200)
      expect(writer.status().oldestUnloadedReceivedAt).toBe('2026-01-01T00:00:00.000Z')
      expect(delays).toEqual([])
    } finally {
      await held`rollback`
      held.release()
      await blocker.end({ timeout: 1 })
    }
    await eventually(() => writer.status().batches === 1 && !spool.pending(), 20_000, 'the batch to commit')
    expect(writer.status().oldestUnloadedReceivedAt).toBeNull()
    await writer.stop(1000)
    await spool.close()
    expect(delays).toHaveLength(1)
    expect(Math.abs((delays[0] as number) - (Date.now() - Date.UTC(2026, 0, 1)) / 1000)).toBeLessThan(30)
  })
})

describe('a database that refuses the bad row too', () => {
  // A LATIN1 database cannot hold an emoji: not the event, not its bad row's payload.
  test.skipIf(!hasServer())('keeps the bad row without its payload instead of retrying it forever', async () => {
    const server = new URL(process.env.TEST_DATABASE_URL as string)
    const name = `${databasePrefix()}latin1_${process.pid}`
    const admin = postgres(server.href, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name} encoding 'LATIN1' lc_collate 'C' lc_ctype 'C' template template0`)
    const url = new URL(server.href)
    url.pathname = `/${name}`
    const sql = postgres(url.href, { max: 2, onnotice: () => {}, types: COLUMN_TYPES })
    try {
      const spool = openSpool({ dir: path.join(tempDir('writer-latin1'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
      const sink = createLazySink({ sql, dialect: 'postgres', schema: 'atomic', migrate: async () => { await migrate(sql, 'postgres', 'atomic') } })
      const writer = createWriter({ spool, sink, maxRows: 100, maxWaitMs: 5, log: () => {}, backoff: { initialMs: 10, maxMs: 50 } })
      const emoji = message('emoji')
      ;(emoji.messages[0] as { data: { incident: { trigger_summary_data: { subject: string } } } }).data.incident.trigger_summary_data.subject = 'disk full \u{1F525}'
      for (const body of [emoji, message('plain')]) {
        const r = build(body)
        await spool.append(encodeRecord({ events: r.events, badRows: r.badRows }), r.events.length)
      }
      writer.start()
      await eventually(() => spool.unreadEvents() === 0 && !spool.pending(), 20_000, 'the spool to drain')
      expect(writer.status()).toMatchObject({ loadedEvents: 1, rejectedEvents: 1, database: 'up' })
      await writer.stop(1000)
      await spool.close()
      const bad = await sql.unsafe(`select reason, payload is null as no_payload, detail from atomic.bad_rows`)
      expect(bad.map((r) => [r.reason, r.no_payload, String(r.detail).includes('SQLSTATE 22P05')])).toEqual([['DATABASE_REJECTED', true, true]])
      expect((await sql.unsafe(`select id from atomic.com_pagerduty_incident_1`)).map((r) => r.id)).toEqual(['plain'])
    } finally {
      await sql.end({ timeout: 1 })
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }, 30_000)
})

describe('chunkBatch', () => {
  const event = (n: number) => ({ eventId: `e${n}`, rows: [] }) as unknown as Batch['events'][number]
  const bad = (n: number) => ({ bad_row_id: `b${n}` }) as unknown as Batch['badRows'][number]
  test.each([[1, 0, 1], [3, 2, 3], [7, 1, 3], [250, 3, 100]])('%i events, %i bad rows, at most %i a part: in order, bad rows with the first', (e, b, max) => {
    const batch: Batch = { events: Array.from({ length: e }, (_, i) => event(i)), badRows: Array.from({ length: b }, (_, i) => bad(i)) }
    const parts = chunkBatch(batch, max)
    expect(parts.map((p) => p.events.length)).toEqual(Array.from({ length: Math.ceil(e / max) }, (_, i) => Math.min(max, e - i * max)))
    expect(parts.flatMap((p) => p.events)).toEqual(batch.events)
    expect(parts.map((p) => p.badRows.length)).toEqual(parts.map((_, i) => (i === 0 ? b : 0)))
  })
})

describe('splitBatch', () => {
  const event = (n: number) => ({ eventId: `e${n}`, rows: [] }) as unknown as Batch['events'][number]
  const bad = (n: number) => ({ bad_row_id: `b${n}` }) as unknown as Batch['badRows'][number]
  const size = (b: Batch) => b.events.length + b.badRows.length
  test.each([
    [1, 1], [1, 3], [2, 1], [5, 0], [0, 2], [0, 7], [4, 4], [2, 0],
  ])('%i events and %i bad rows: parts strictly smaller, nothing lost or repeated', (e, b) => {
    const batch: Batch = { events: Array.from({ length: e }, (_, i) => event(i)), badRows: Array.from({ length: b }, (_, i) => bad(i)) }
    const parts = splitBatch(batch)
    for (const part of parts) expect(size(part)).toBeLessThan(size(batch))
    expect(parts.flatMap((p) => p.events)).toEqual(batch.events)
    expect(parts.flatMap((p) => p.badRows)).toEqual(batch.badRows)
  })
})
