/**
 * The text[] literal each column travels in: whatever the values hold, PostgreSQL's array
 * parser must read back exactly the values we sent (the fast JSON path and the per-value
 * path alike), NULL as NULL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { arrayLiteral } from '../../src/sink/postgres.ts'
import { freshDatabase, type TestDatabase } from '../helpers/database.ts'

const cases: { name: string; values: (string | number | null)[] }[] = [
  { name: 'plain strings and NULL', values: ['PRORDTY', null, 'Production XDB Cluster', ''] },
  { name: 'the word NULL and braces as text', values: ['NULL', 'null', '{a,b}', ' padded '] },
  { name: 'quotes and backslashes', values: ['say "hi"', 'C:\\temp\\', '\\"', '[{"at":"2016-02-22T21:02:55Z"}]'] },
  { name: 'control characters and a newline', values: ['line 1\nline 2', 'tab\there', '\u0001'] },
  { name: 'non-ASCII text', values: ['€uro', 'naïve', '日本語', '🚨 incident'] },
  { name: 'numbers', values: [2126, 0, -1.5, null] },
]

describe('arrayLiteral', () => {
  let db: TestDatabase
  beforeAll(async () => { db = await freshDatabase('array_literal') }, 60_000)
  afterAll(async () => { await db?.drop() })

  test.each(cases)('PostgreSQL reads back $name exactly', async ({ values }) => {
    const rows = await db.sql.unsafe('select u.v from unnest($1::text[]) with ordinality as u(v, i) order by i', [arrayLiteral(values)])
    expect(rows.map((r) => r.v)).toEqual(values.map((v) => (v === null ? null : String(v))))
  })

  test('uses the JSON text when the values need no escape beyond quotes and backslashes', () => {
    expect(arrayLiteral(['a "b"', null, 3])).toBe('{"a \\"b\\"",null,3}')
  })
})
