/**
 * A refused compressed body is inflated to look for credentials, and what it inflates to is
 * redacted on the event loop, before the 415 and before any other request is answered. Read
 * up to 8 x MAX_BODY_BYTES, a 48 KiB gzip of 8 MiB of short escaped URL literals held the
 * event loop 2.4-3.6 s (4-14 s with the escapes read by a callback) on a 2-core machine: every
 * webhook meanwhile waited, and a few such requests a second stopped the collector answering.
 */
import zlib from 'node:zlib'
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { Collector } from '../../src/app.ts'
import { eventually, startInProcess } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'

let db: TestDatabase
let collector: Collector

beforeAll(async () => {
  db = await freshDatabase('compressed_stall')
  // MAX_BODY_BYTES at its default, 1 MiB.
  collector = await startInProcess({ DATABASE_URL: db.url, DATA_DIR: tempDir('compressed-stall') })
})

afterAll(async () => {
  await collector.stop()
  await db.drop()
})

const MiB = 1024 * 1024

test('a small gzip body of megabytes of escaped URLs is answered 415 at once, and kept as it came', async () => {
  const content = `{"messages":[${'"\\u0040a://b@",'.repeat((8 * MiB) / 16 - 2)}1]}`
  const body = zlib.gzipSync(content, { level: 9 })
  expect(body.length).toBeLessThan(64 * 1024)
  const started = performance.now()
  const res = await fetch(new URL('/com.pagerduty/v1?aid=gzip-stall', collector.url), { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body })
  const ms = performance.now() - started
  expect(res.status).toBe(415)
  // Without the bound, 2,400-3,600 ms here; with it, tens.
  expect(ms).toBeLessThan(1000)
  const rows = () => db.sql`select decode(payload, 'base64') as bytes from atomic.bad_rows where request::jsonb->'query'->>'aid' = 'gzip-stall'`
  await eventually(async () => (await rows()).length === 1, 20_000, 'the bad row')
  const [row] = await rows()
  expect(Buffer.from(row?.bytes as Uint8Array).equals(body)).toBe(true)
}, 60_000)
