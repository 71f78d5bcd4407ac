/**
 * How long the writer waits between retries while the database fails: capped exponential
 * backoff (issue 3), capped lower while connections are refused outright, so loading resumes
 * within about a second of a database coming back from a restart.
 */
import { describe, expect, test } from 'bun:test'
import { connect } from '../../src/db/connect.ts'
import { backoffCeiling } from '../../src/sink/writer.ts'

const DEFAULTS = { initialMs: 200, maxMs: 30_000 }

/** The error postgres.js gives when nothing listens on the port (port 1 on loopback). */
async function refusedError(): Promise<unknown> {
  const sql = connect({ url: 'postgres://postgres@127.0.0.1:1/none', dialect: 'postgres', max: 1 })
  try {
    return await sql`select 1`.then(() => null, (error: unknown) => error)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

const timeout = Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' })

describe('backoffCeiling', () => {
  test('a refused connection is what postgres.js reports for a port nobody listens on', async () => {
    expect((await refusedError() as { code?: string }).code).toBe('ECONNREFUSED')
  })

  test.each([
    { attempt: 0, closed: 200, refused: 200 },
    { attempt: 2, closed: 800, refused: 800 },
    { attempt: 3, closed: 1600, refused: 1000 },
    { attempt: 7, closed: 25_600, refused: 1000 },
    { attempt: 8, closed: 30_000, refused: 1000 },
    { attempt: 40, closed: 30_000, refused: 1000 },
  ])('retry $attempt waits at most $closed ms after other failures, $refused ms while refused', async ({ attempt, closed, refused }) => {
    expect(backoffCeiling(attempt, timeout, DEFAULTS)).toBe(closed)
    expect(backoffCeiling(attempt, await refusedError(), DEFAULTS)).toBe(refused)
  })

  test('the refused cap never exceeds the overall cap', () => {
    expect(backoffCeiling(10, { code: 'ECONNREFUSED' }, { initialMs: 10, maxMs: 50, refusedMaxMs: 1000 })).toBe(50)
  })
})
