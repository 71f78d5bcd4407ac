/**
 * The writer's pipeline with a sink of its own (no database): what it commits, and when,
 * with two batches in flight.
 */
import { expect, test } from 'bun:test'
import path from 'node:path'
import type { Batch, Sink } from '../../src/sink/batch.ts'
import { encodeRecord } from '../../src/sink/records.ts'
import { createWriter } from '../../src/sink/writer.ts'
import { openSpool } from '../../src/spool/spool.ts'
import { tempDir } from '../helpers/database.ts'

const badRow = (i: number) => ({ bad_row_id: crypto.randomUUID(), received_at: '2026-01-01 00:00:00', reason: 'X', detail: '[]', vendor: 'com.pagerduty', version: null, payload: `p${i}` })

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
