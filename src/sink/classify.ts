/**
 * Is a database error about the data (split the batch, isolate the offending events) or
 * about the database (keep the batch, back off, retry)? Only SQLSTATE classes 22 (data
 * exception) and 23 (integrity constraint violation), and 54000 (program limit: a value too
 * large for an index) blame the rows. Anything else, a missing column included, is retried:
 * sending every event to bad rows because of a schema problem would be the wrong outcome.
 */
export function isDataError(error: unknown): boolean {
  if (error instanceof RowRejectedError) return true
  const code = sqlState(error)
  if (code === 'XX000') return isRedshiftValueTooLong(error)
  return code !== null && (code.startsWith('22') || code.startsWith('23') || code === '54000')
}

/**
 * A row the sink refuses before sending it, because the database could never take it (a
 * JSON value longer than Redshift's JSON_PARSE reads): isolated and kept in bad rows like a
 * row the database refused.
 */
export class RowRejectedError extends Error {
  override name = 'RowRejectedError'
}

/**
 * Redshift reports a value too long for its column from its executor as SQLSTATE XX000 with
 * its own error code 8001 in the message or detail (awslabs/amazon-redshift-utils#716,
 * metabase/metabase#49147), not as 22001. Any other XX000 (an internal error, or 1023, a
 * serialization conflict) stays retryable.
 */
function isRedshiftValueTooLong(error: unknown): boolean {
  const e = error as { message?: unknown; detail?: unknown }
  return /value too long for (?:character )?type|\bcode:\s*8001\b/i.test(`${String(e.message ?? '')}\n${String(e.detail ?? '')}`)
}

/** The SQLSTATE of an error the database answered with; null for anything else (a lost connection). */
function sqlState(error: unknown): string | null {
  const e = error as { name?: string; code?: unknown }
  return e?.name === 'PostgresError' && typeof e.code === 'string' ? e.code : null
}

/**
 * SQLSTATE class 42 (undefined column or table, a type that no longer matches): the tables
 * changed under the writer, a DBA dropped a column or the table itself. The batch is fine;
 * the writer's plan of the tables is stale and must be read again before the retry.
 */
export function isSchemaError(error: unknown): boolean {
  return sqlState(error)?.startsWith('42') ?? false
}

/**
 * The tables, not the rows, are why a write failed (and a write with every row would fail the
 * same way): the writer reads the tables again and retries the batch whole, its events
 * waiting in the spool as after a schema error, never sent to bad rows.
 */
export class TablesChangedError extends Error {
  override name = 'TablesChangedError'
}

/**
 * An error of a data class that the table gives every row, whatever its values: a NOT NULL
 * column the collector does not fill (23502 naming a column outside its insert: one a DBA
 * added without a default). Isolating it would send every event to bad rows, where they would
 * stay once the table is fixed. (A partitioned table with no partition for a row, 23514, is
 * not one: the partition key may come from the row's own data, an incident created years
 * ago, and that row alone must go to bad rows, not hold up every other.)
 */
export function isTableCausedError(error: unknown, written: (table: string) => ReadonlySet<string>): boolean {
  const e = error as { table_name?: unknown; column_name?: unknown }
  return sqlState(error) === '23502' && typeof e.table_name === 'string' && typeof e.column_name === 'string' && !written(e.table_name).has(e.column_name)
}

/**
 * PostgreSQL's statement_timeout (57014 with its own words: a DBA's pg_cancel_backend says
 * "due to user request"): the batch is too slow for the limit set on the login or database,
 * and would be at every retry; halves of it may not be.
 */
export function isStatementTimeout(error: unknown): boolean {
  return sqlState(error) === '57014' && /statement timeout/i.test(String((error as { message?: unknown }).message ?? ''))
}

/**
 * SQLSTATE 25006 (read_only_sql_transaction): the server no longer takes writes on this
 * connection, a primary that failed over and came back as a replica (an Aurora writer turned
 * reader keeps its connections). New connections find the new primary; these never will.
 */
export function isReadOnlyError(error: unknown): boolean {
  return sqlState(error) === '25006'
}

/**
 * SQLSTATE 40001 (serialization failure) or 40P01 (deadlock detected): this transaction lost
 * to a concurrent one, another instance loading the same events (under a default isolation
 * of repeatable read or serializable, or inserting them in the opposite order). Retrying at
 * once succeeds, and loads nothing twice; the database is not down.
 */
export function isTransactionConflict(error: unknown): boolean {
  const code = sqlState(error)
  if (code === 'XX000') { // Redshift's error 1023: "ERROR: 1023 DETAIL: Serializable isolation violation on table ..."
    const e = error as { message?: unknown; detail?: unknown }
    return /serializable isolation violation/i.test(`${String(e.message ?? '')}\n${String(e.detail ?? '')}`)
  }
  return code === '40001' || code === '40P01'
}

/**
 * A database error in words that quote no value, for the log and GET /ready: its SQLSTATE,
 * message and the names it gives. PostgreSQL's DETAIL quotes the failing row or key ("Failing
 * row contains (...)": incident titles, e-mails), and a class 22 message the value itself
 * (`invalid input syntax for type integer: "abc"`, Redshift's value too long): those stay in
 * bad rows, not in the journal.
 */
export function describeWithoutValues(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown; table_name?: unknown; column_name?: unknown; constraint_name?: unknown }
  const code = typeof e.code === 'string' ? e.code : null
  const quotesValue = code !== null && (code.startsWith('22') || code === 'XX000')
  const named = (label: string, name: unknown) => (typeof name === 'string' && name !== '' ? `${label} ${name}` : null)
  return [code && `SQLSTATE ${code}`, !quotesValue && typeof e.message === 'string' ? e.message : null, named('table', e.table_name), named('column', e.column_name), named('constraint', e.constraint_name)]
    .filter(Boolean).join(': ')
}

/** The message a bad row records for a rejected event. */
export function describeDatabaseError(error: unknown): string {
  const e = error as { code?: string; message?: string; detail?: string; column_name?: string }
  return [e.code && `SQLSTATE ${e.code}`, e.message, e.detail, e.column_name && `column ${e.column_name}`].filter(Boolean).join(': ')
}
