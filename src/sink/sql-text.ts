/** SQL text helpers. Column names contain dots, which postgres.js's identifier helper splits. */

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`
export const qualified = (schema: string, table: string): string => `${quoteIdent(schema)}.${quoteIdent(table)}`

/** `($1,$2),($3,$4)...` for `rows` rows of `width` parameters. */
export function valuesPlaceholders(rows: number, width: number): string {
  const tuples: string[] = new Array(rows)
  let n = 1
  for (let r = 0; r < rows; r++) {
    const cells: string[] = new Array(width)
    for (let c = 0; c < width; c++) cells[c] = `$${n++}`
    tuples[r] = `(${cells.join(',')})`
  }
  return tuples.join(',')
}

/**
 * Splits `items` into chunks whose sizes are powers of two, none above `max`: a table sees at
 * most log2(max)+1 statement shapes, each prepared once per connection and then reused.
 */
export function powerOfTwoChunks<T>(items: readonly T[], max: number): T[][] {
  let cap = 1
  while (cap * 2 <= max) cap *= 2
  const out: T[][] = []
  let at = 0
  while (at < items.length) {
    let size = cap
    while (size > items.length - at) size /= 2
    out.push(items.slice(at, at + size))
    at += size
  }
  return out
}
