/**
 * The rows of a postgres.js result, without empty slots. postgres.js 3.4.9 places each row at
 * a counter that only CommandComplete resets: after a statement fails part way through
 * sending its rows (a division by zero in a later row, a statement_timeout while rows
 * stream), the next result on that connection starts with as many holes, its real rows after
 * them. Reading those holes as rows threw (after the writer's batch had committed).
 */
export function resultRows<T>(rows: readonly T[]): T[] {
  return rows.filter(() => true) // filter skips holes
}
