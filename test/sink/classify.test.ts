/** Which database errors blame the rows (isolate them), the tables (re-plan), or neither (retry). */
import { describe, expect, test } from 'bun:test'
import { describeWithoutValues, isDataError, isSchemaError, isTableCausedError, isTransactionConflict, RowRejectedError, TablesChangedError } from '../../src/sink/classify.ts'
import { createTablePlans } from '../../src/sink/tables.ts'

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

  test('a serialization failure or a deadlock is a transaction conflict, neither a data nor a schema error', () => {
    expect(['40001', '40P01', '57P01', '22021', '42501'].map((code) => [isTransactionConflict(pg(code)), isDataError(pg(code)), isSchemaError(pg(code))]))
      .toEqual([[true, false, false], [true, false, false], [false, false, false], [false, true, false], [false, false, true]])
  })

  test('an error the database did not answer with (a lost connection) is neither', () => {
    const lost = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })
    expect([isDataError(lost), isSchemaError(lost), isDataError(undefined), isSchemaError(null)]).toEqual([false, false, false, false])
  })

  test('Redshift: XX000 is a data error only for its value-too-long (8001); a serialization conflict (1023) or an internal error is retried', () => {
    const xx = (message: string, detail: string) => Object.assign(pg('XX000'), { message, detail })
    expect(isDataError(xx('Value too long for character type', '  error:  Value too long for character type\n  code:      8001\n'))).toBe(true)
    expect(isDataError(xx('internal error', '  code:      8001\n'))).toBe(true)
    expect(isDataError(xx('1023', 'Serializable isolation violation on table - 123, transactions forming the cycle are: 1, 2 (pid:3)'))).toBe(false)
    // A conflict with a concurrent writer, retried at once (not an outage).
    expect(isTransactionConflict(xx('1023', 'Serializable isolation violation on table - 123, transactions forming the cycle are: 1, 2 (pid:3)'))).toBe(true)
    expect(isTransactionConflict(xx('Assert', '  code:      1000\n'))).toBe(false)
    expect(isDataError(xx('Assert', '  code:      1000\n'))).toBe(false)
  })

  test('a row the sink refuses before sending it is a data error (isolated into bad rows)', () => {
    expect(isDataError(new RowRejectedError('a JSON value of 70000 bytes'))).toBe(true)
  })
})

describe('errors the table gives every row', () => {
  const failure = (fields: Record<string, string>) => Object.assign(new Error(fields.message ?? 'x'), { name: 'PostgresError', ...fields })
  const written = (table: string) => new Set(table === 'events' ? ['event_id', 'useragent'] : [])

  test('NOT NULL on a column the collector does not fill is the table\'s; other 23xxx are the rows\', a missing partition too (its key may be the row\'s own data)', () => {
    expect(isTableCausedError(failure({ code: '23514', message: 'no partition of relation "com_pagerduty_incident_1" found for row' }), written)).toBe(false)
    expect(isTableCausedError(failure({ code: '23502', message: 'null value in column "tenant"', table_name: 'events', column_name: 'tenant' }), written)).toBe(true)
    expect(isTableCausedError(failure({ code: '23502', message: 'null value in column "useragent"', table_name: 'events', column_name: 'useragent' }), written)).toBe(false)
    expect(isTableCausedError(failure({ code: '23514', message: 'new row for relation "events" violates check constraint "no_poison"' }), written)).toBe(false)
    expect(isTableCausedError(failure({ code: '22001', message: 'value too long' }), written)).toBe(false)
  })

  test('a table this login cannot see (missing, or its grants revoked) makes the tables be read again, not a plain failure', () => {
    const plans = createTablePlans('atomic', new Map(), undefined)
    expect(() => plans.planFor('events', { event_id: 'x' })).toThrow(TablesChangedError)
    expect(() => plans.planFor('events', { event_id: 'x' })).toThrow('table atomic.events is not visible to this login: it is missing (run "collector migrate") or the login has no privilege on it')
  })

  test('an error described for the log keeps its SQLSTATE, message and names, never the DETAIL nor a class 22 message (they quote the values)', () => {
    const notNull = Object.assign(pg('23502'), { message: 'null value in column "tenant" of relation "events" violates not-null constraint', detail: 'Failing row contains (laura.haley@example.com).', table_name: 'events', column_name: 'tenant' })
    const syntax = Object.assign(pg('22P02'), { message: 'invalid input syntax for type integer: "laura.haley@example.com"' })
    expect(describeWithoutValues(notNull)).toBe('SQLSTATE 23502: null value in column "tenant" of relation "events" violates not-null constraint: table events: column tenant')
    expect(describeWithoutValues(syntax)).toBe('SQLSTATE 22P02')
  })
})
