import { expect, test } from 'bun:test'
import { endsReadyForQuery, tailOf } from '../../src/db/protocol-queue.ts'

test('a response ends with ReadyForQuery, across chunks: not when PGlite stopped after the RowDescription', () => {
  const ready = new Uint8Array([0x5a, 0, 0, 0, 5, 0x49])
  const complete = new Uint8Array([0x43, 0, 0, 0, 13, ...new TextEncoder().encode('SELECT 1\0'), ...ready])
  expect(endsReadyForQuery(tailOf(new Uint8Array(0), complete))).toBe(true)
  let tail: Uint8Array = new Uint8Array(0)
  for (const byte of complete) tail = tailOf(tail, new Uint8Array([byte]))
  expect(endsReadyForQuery(tail)).toBe(true)
  expect(endsReadyForQuery(tailOf(complete.subarray(0, complete.length - 4), complete.subarray(complete.length - 4)))).toBe(true)
  const rowDescriptionOnly = new Uint8Array([0x54, 0, 0, 0, 6, 0, 0])
  expect(endsReadyForQuery(tailOf(new Uint8Array(0), rowDescriptionOnly))).toBe(false)
  expect(endsReadyForQuery(new Uint8Array(0))).toBe(false)
})
