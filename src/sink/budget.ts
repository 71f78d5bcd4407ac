/**
 * The statement budget: how many rows one multi-row INSERT may carry. Redshift caps a
 * statement at 16 MB ("The maximum size for a single Amazon Redshift SQL statement is
 * 16 MB", docs.aws.amazon.com/redshift/latest/dg/c_redshift-sql.html) and its extended
 * protocol at 32,767 bind parameters (aws/amazon-redshift-python-driver#165: $32768 fails).
 * PostgreSQL's protocol allows 65,534 parameters (postgres.js MAX_PARAMETERS_EXCEEDED).
 * BATCH_MAX_ROWS bounds a transaction, never a statement: a batch is cut into as many
 * statements as its rows need.
 */

export interface StatementBudget {
  /** Most bind parameters in one statement. */
  maxParameters: number
  /** Most bytes of statement text plus parameter values in one statement. */
  maxBytes: number
}

/**
 * 15 MiB leaves room under both readings of "16 MB" (16,000,000 and 16,777,216 bytes) for
 * the protocol framing and the length words postgres.js adds around each value.
 */
export const REDSHIFT_BUDGET: StatementBudget = { maxParameters: 32_767, maxBytes: 15 * 1024 * 1024 }

/** Bytes one value adds to a statement: its UTF-8 text, or a generous bound for the rest. */
export function valueBytes(value: unknown): number {
  if (value === null || value === undefined) return 0
  if (typeof value === 'string') return value.length <= 64 ? value.length * 3 : Buffer.byteLength(value, 'utf8')
  return 32
}

/**
 * Splits rows (each an array of parameter values) into statements within the budget, in
 * order. `rowTextBytes` is the SQL text one row adds (its placeholder tuple); `fixedBytes`
 * the text every statement carries (the INSERT head). A row that alone exceeds the bytes
 * budget still gets a statement of its own: the database, not the writer, then rejects it
 * and the writer isolates it into bad rows.
 */
export function fitStatements(rows: readonly unknown[][], rowTextBytes: number, fixedBytes: number, budget: StatementBudget): unknown[][][] {
  const out: unknown[][][] = []
  let current: unknown[][] = []
  let params = 0
  let bytes = fixedBytes
  for (const row of rows) {
    let size = rowTextBytes
    for (const value of row) size += valueBytes(value)
    const fits = params + row.length <= budget.maxParameters && bytes + size <= budget.maxBytes
    if (!fits && current.length > 0) {
      out.push(current)
      current = []
      params = 0
      bytes = fixedBytes
    }
    current.push(row)
    params += row.length
    bytes += size
  }
  if (current.length > 0) out.push(current)
  return out
}
