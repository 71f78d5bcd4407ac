/**
 * What the writer does once per batch for the life of the process must leave nothing behind:
 * the 8-minute soak (docs/chaos.md) found the collector's retained promises growing by 14 a
 * second under load, and not falling once it was idle. Two causes, each enough to fail this:
 * the wait for data raced a promise only a stop resolves, and each batch's commit watched
 * the spool's checkpoint write, which while commits keep coming takes them in and does not
 * settle.
 */
import { heapStats } from 'bun:jsc'
import { expect, test } from 'bun:test'
import path from 'node:path'
import type { Batch, Sink } from '../../src/sink/batch.ts'
import { encodeRecord } from '../../src/sink/records.ts'
import { createWriter } from '../../src/sink/writer.ts'
import { openSpool } from '../../src/spool/spool.ts'
import { tempDir } from '../helpers/database.ts'

const badRow = (i: number) => ({ bad_row_id: crypto.randomUUID(), received_at: '2026-01-01 00:00:00', reason: 'X', detail: '[]', vendor: 'com.pagerduty', version: null, payload: `p${i}`, request: null })

/** Promises still reachable after a full collection. */
function livePromises(): number {
  Bun.gc(true)
  return heapStats().objectTypeCounts.Promise ?? 0
}

test.each([1, 2])('a thousand batches, each after a wait for data, %i in flight at most, leave no promise behind', async (concurrency) => {
  const spool = openSpool({ dir: path.join(tempDir('writer-idle-wait'), 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 24 })
  let committed = 0
  let onCommit: () => void = () => {}
  const sink: Sink = { dialect: 'postgres', write: async (b: Batch) => ({ loaded: 0, duplicates: 0, badRows: b.badRows.length, loadedByVersion: {} }) }
  const writer = createWriter({ spool, sink, maxRows: 10, maxWaitMs: 0, concurrency, log: () => {}, onCommit: () => { committed++; onCommit() } })
  writer.start()
  // One record at a time, each committed before the next is appended: every batch begins
  // with the writer waiting for data.
  const oneBatch = async (i: number) => {
    const done = new Promise<void>((resolve) => { onCommit = resolve })
    await spool.append(encodeRecord({ events: [], badRows: [badRow(i)] }), 1)
    await done
  }
  for (let i = 0; i < 100; i++) await oneBatch(i)
  const before = livePromises()
  for (let i = 100; i < 1100; i++) await oneBatch(i)
  const after = livePromises()
  await writer.stop(1000)
  await spool.close()
  expect(committed).toBe(1100)
  // Before: about 1,000 with either cause alone (one retained per batch), 2,000 with both.
  expect(after - before).toBeLessThan(50)
}, 30_000)
