/**
 * The writer's pipeline with a sink of its own (no database): what it commits, and when,
 * with two batches in flight.
 */
import { expect, test } from 'bun:test'
import path from 'node:path'
import type { Batch, Sink, WriteResult } from '../../src/sink/batch.ts'
import { encodeRecord } from '../../src/sink/records.ts'
import { createWriter, timeoutAfter, type Writer } from '../../src/sink/writer.ts'
import { openSpool } from '../../src/spool/spool.ts'
import { tempDir } from '../helpers/database.ts'

const badRow = (i: number) => ({ bad_row_id: crypto.randomUUID(), received_at: '2026-01-01 00:00:00', reason: 'X', detail: '[]', vendor: 'com.pagerduty', version: null, payload: `p${i}`, request: null })

/** The writer's database state once it is `state`, or what it is after 5 s. */
async function databaseState(writer: Writer, state: string): Promise<string> {
  const end = Date.now() + 5000
  while (writer.status().database !== state && Date.now() < end) await Bun.sleep(20)
  return writer.status().database
}

test('a backlog from before a restart is committed to its end: nothing looks pending, a stop does not wait out its drain time', async () => {
  const dir = path.join(tempDir('writer-order'), 'spool')
  const first = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  for (let i = 0; i < 3; i++) await first.append(encodeRecord({ events: [], badRows: [badRow(i)] }), 1)
  await first.close()
  // The restart: the records are in an older segment, the new active one is empty.
  const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  let written = 0
  const sink: Sink = { dialect: 'postgres', write: async (b: Batch) => { await Bun.sleep(30); written += b.badRows.length; return { loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} } } }
  const writer = createWriter({ spool, sink, maxRows: 1, maxWaitMs: 0, concurrency: 2, log: () => {} })
  writer.start()
  const until = Date.now() + 5000
  while ((spool.pending() || written < 3) && Date.now() < until) await Bun.sleep(20)
  expect([written, spool.pending(), spool.checkpoint()]).toEqual([3, false, spool.end()])
  const stopping = performance.now()
  await writer.stop(5000)
  expect(performance.now() - stopping).toBeLessThan(1000)
  await spool.close()
}, 15_000)

test('a write still waiting after slowWriteMs is logged once and shown as the last error; it loads when it returns', async () => {
  const dir = path.join(tempDir('writer-slow'), 'spool')
  const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  await spool.append(encodeRecord({ events: [], badRows: [badRow(1)] }), 1)
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const sink: Sink = { dialect: 'postgres', write: async (b: Batch) => { await held; return { loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} } } }
  const lines: string[] = []
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, slowWriteMs: 50, log: (_level, msg) => { lines.push(msg) } })
  writer.start()
  await Bun.sleep(300)
  expect(lines.filter((l) => l === 'database write still waiting')).toHaveLength(1)
  expect(writer.status().lastError).toStartWith('a database write has waited 0.05 s')
  release()
  const until = Date.now() + 5000
  while (spool.pending() && Date.now() < until) await Bun.sleep(20)
  expect(writer.status().badRows).toBe(1)
  await writer.stop(1000)
  await spool.close()
})

test('a write with no answer is given up after writeTimeoutMs: the sink abandons its connections and the batch is retried, the limit doubling until a write succeeds', async () => {
  const dir = path.join(tempDir('writer-timeout'), 'spool')
  const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  await spool.append(encodeRecord({ events: [], badRows: [badRow(1)] }), 1)
  // Like a silent connection: a write never settles until the sink's connections are closed,
  // which fails it. The first two writes go silent, the third answers, the fourth (the next
  // batch) goes silent again and the fifth answers.
  const hung = new Set<(e: Error) => void>()
  let calls = 0
  let abandoned = 0
  let written = 0
  const sink: Sink = {
    dialect: 'postgres',
    write: (b: Batch) => ++calls <= 2 || calls === 4
      ? new Promise<WriteResult>((_, reject) => { hung.add(reject) })
      : Promise.resolve((written += b.badRows.length, { loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} })),
    abandon: () => { abandoned++; for (const fail of hung) fail(new Error('CONNECTION_DESTROYED')); hung.clear() },
  }
  const lines: { msg: string; fields?: Record<string, unknown> }[] = []
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, writeTimeoutMs: 100, backoff: { initialMs: 10, maxMs: 20 }, log: (_level, msg, fields) => { lines.push({ msg, fields }) } })
  writer.start()
  const until = Date.now() + 5000
  while (spool.pending() && Date.now() < until) await Bun.sleep(20)
  expect([calls, abandoned, written, spool.pending()]).toEqual([3, 2, 1, false])
  await spool.append(encodeRecord({ events: [], badRows: [badRow(2)] }), 1)
  while ((spool.pending() || written < 2) && Date.now() < until) await Bun.sleep(20)
  expect([calls, abandoned, written]).toEqual([5, 3, 2])
  // The limit doubled while writes timed out, and is back to the setting after a success.
  const timeouts = lines.filter((l) => l.msg === 'database write timed out: closing the connections and retrying on new ones')
  expect(timeouts.map((l) => l.fields?.seconds)).toEqual([0.1, 0.2, 0.1])
  expect(writer.status()).toMatchObject({ database: 'up', writeTimeouts: 3 })
  await writer.stop(1000)
  await spool.close()
})

test('a start whose table check gets no answer is given up the same way', async () => {
  const spool = openSpool({ dir: path.join(tempDir('writer-prepare-timeout'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  let prepares = 0
  let abandoned = 0
  const sink: Sink = {
    dialect: 'postgres',
    write: async (b: Batch) => ({ loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} }),
    prepare: () => (++prepares === 1 ? new Promise<void>(() => {}) : Promise.resolve()),
    abandon: () => { abandoned++ },
  }
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, writeTimeoutMs: 100, backoff: { initialMs: 10, maxMs: 20 }, log: () => {} })
  writer.start()
  const until = Date.now() + 5000
  while (writer.status().database !== 'up' && Date.now() < until) await Bun.sleep(20)
  expect([prepares, abandoned, writer.status().database]).toEqual([2, 1, 'up'])
  await writer.stop(1000)
  await spool.close()
})

test('the limit doubles per timeout in a row, up to 16 times the setting', () => {
  expect([0, 1, 2, 3, 4, 5, 10].map((n) => timeoutAfter(60_000, n))).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 960_000, 960_000])
  expect(timeoutAfter(0, 3)).toBe(0)
})

test('with nothing to write, the database is still asked now and then: an outage in a quiet hour shows (and is logged) before the next webhook, and so does its end', async () => {
  const spool = openSpool({ dir: path.join(tempDir('writer-idle-probe'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  let reachable = true
  let pings = 0
  const sink: Sink = {
    dialect: 'postgres',
    write: async () => ({ loaded: 0, duplicates: 0, badRows: 0, loadedByVersion: {} }),
    ping: async () => { pings++; if (!reachable) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) },
  }
  const lines: string[] = []
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, idleProbeMs: 50, log: (_level, msg) => { lines.push(msg) } })
  writer.start()
  const until = (state: string) => databaseState(writer, state)
  expect(await until('up')).toBe('up')
  reachable = false
  expect(await until('down')).toBe('down')
  expect(writer.status().lastError).toContain('ECONNREFUSED')
  reachable = true
  expect(await until('up')).toBe('up')
  expect(lines.filter((l) => l.startsWith('database'))).toEqual(['database reachable', 'database unavailable: events wait in the spool', 'database reachable'])
  expect(pings).toBeGreaterThanOrEqual(3)
  await writer.stop(1000)
  await spool.close()
}, 20_000)

test('with nothing to write, a probe the database never answers (a connection gone silent) calls it down and lets go of the connection; a probe answered calls it up again', async () => {
  const spool = openSpool({ dir: path.join(tempDir('writer-silent-probe'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  let silent = false
  let abandoned = 0
  // A ping on a silent connection waits until the connection is closed (abandon).
  const waiting = new Set<(error: Error) => void>()
  const sink: Sink = {
    dialect: 'postgres',
    write: async () => ({ loaded: 0, duplicates: 0, badRows: 0, loadedByVersion: {} }),
    ping: () => (silent ? new Promise<void>((_, reject) => { waiting.add(reject) }) : Promise.resolve()),
    abandon: () => { abandoned++; for (const reject of waiting) reject(Object.assign(new Error('write CONNECTION_DESTROYED'), { code: 'CONNECTION_DESTROYED' })); waiting.clear() },
  }
  const lines: string[] = []
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, idleProbeMs: 50, writeTimeoutMs: 200, log: (_level, msg) => { lines.push(msg) } })
  writer.start()
  const until = (state: string) => databaseState(writer, state)
  expect(await until('up')).toBe('up')
  silent = true
  expect(await until('down')).toBe('down')
  expect(writer.status().lastError).toBe('no answer from the database to a probe (select 1) in 0.2 s: a connection gone silent?')
  expect(abandoned).toBeGreaterThanOrEqual(1)
  // Not a write: collector_database_write_timeouts_total is not counted.
  expect(writer.status().writeTimeouts).toBe(0)
  silent = false
  expect(await until('up')).toBe('up')
  expect(lines.filter((l) => l.startsWith('database'))).toEqual(['database reachable', 'database unavailable: events wait in the spool', 'database reachable'])
  await writer.stop(1000)
  await spool.close()
}, 20_000)

test('a transaction conflict (serialization failure, deadlock) is retried at once, without calling the database down; a run of them is an outage after all', async () => {
  const dir = path.join(tempDir('writer-conflict'), 'spool')
  const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  await spool.append(encodeRecord({ events: [], badRows: [badRow(1)] }), 1)
  // Two instances loading the same event at once on a database whose default isolation is
  // serializable: PostgreSQL refuses one with 40001; opposite orders give a deadlock, 40P01.
  const conflict = (code: string) => Object.assign(new Error('could not serialize access due to concurrent update'), { name: 'PostgresError', code })
  let failures = ['40001', '40P01']
  let calls = 0
  const sink: Sink = {
    dialect: 'postgres',
    write: async (b: Batch) => {
      calls++
      const code = failures.shift()
      if (code) throw conflict(code)
      return { loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} }
    },
  }
  const lines: string[] = []
  const states = new Set<string>()
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, backoff: { initialMs: 5_000, maxMs: 5_000 }, log: (_level, msg) => { lines.push(msg) } })
  writer.start()
  const until = Date.now() + 3000 // well inside the 5 s backoff an outage would wait
  while (spool.pending() && Date.now() < until) { states.add(writer.status().database); await Bun.sleep(5) }
  expect([spool.pending(), calls, writer.status().badRows]).toEqual([false, 3, 1])
  expect(states.has('down')).toBe(false)
  expect(lines.filter((l) => l.startsWith('database unavailable'))).toEqual([])
  // Conflicts that do not stop are an outage like any other failure.
  await spool.append(encodeRecord({ events: [], badRows: [badRow(2)] }), 1)
  failures = Array.from({ length: 100 }, () => '40001')
  const later = Date.now() + 3000
  while (writer.status().database !== 'down' && Date.now() < later) await Bun.sleep(5)
  expect(writer.status().database).toBe('down')
  failures = []
  await writer.stop(100)
  await spool.close()
}, 15_000)

test('a stop during the short wait after a transaction conflict sends no new write: the batch stays in the spool, as after any failure', async () => {
  const dir = path.join(tempDir('writer-conflict-stop'), 'spool')
  const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
  await spool.append(encodeRecord({ events: [], badRows: [badRow(1)] }), 1)
  let calls = 0
  let stopped: Promise<void> | null = null
  const sink: Sink = {
    dialect: 'postgres',
    write: async () => {
      calls++
      // The shutdown begins while the writer waits its few ms before trying again.
      if (calls === 1) setTimeout(() => { stopped = writer.stop(0) }, 1)
      throw Object.assign(new Error('could not serialize access due to concurrent update'), { name: 'PostgresError', code: '40001' })
    },
  }
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, log: () => {} })
  writer.start()
  const until = Date.now() + 3000
  while (!stopped && Date.now() < until) await Bun.sleep(1)
  await stopped
  await Bun.sleep(50)
  // Was 2: a new transaction begun after the stop, on the pool the shutdown closes next.
  expect([calls, spool.pending()]).toEqual([1, true])
  await spool.close()
}, 10_000)
