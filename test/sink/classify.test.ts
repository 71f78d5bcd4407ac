/** Which database errors blame the rows (isolate them), the tables (re-plan), or neither (retry). */
import { describe, expect, test } from 'bun:test'
import { isDataError, isSchemaError } from '../../src/sink/classify.ts'

const pg = (code: string) => Object.assign(new Error(`SQLSTATE ${code}`), { name: 'PostgresError', code })

describe('database error classes', () => {
  test.each([
    ['22021', 'invalid byte sequence', true, false],
    ['23502', 'not null violation', true, false],
    ['54000', 'index row too large', true, false],
    ['42703', 'undefined column', false, true],
    ['42P01', 'undefined table', false, true],
    ['42501', 'insufficient privilege', false, true],
    ['57P01', 'admin shutdown', false, false],
    ['53300', 'too many connections', false, false],
  ])('SQLSTATE %s (%s): data error %p, schema error %p', (code, _name, data, schema) => {
    expect([isDataError(pg(code)), isSchemaError(pg(code))]).toEqual([data, schema])
  })

  test('an error the database did not answer with (a lost connection) is neither', () => {
    const lost = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })
    expect([isDataError(lost), isSchemaError(lost), isDataError(undefined), isSchemaError(null)]).toEqual([false, false, false, false])
  })
})
