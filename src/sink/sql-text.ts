/** SQL text helpers. Column names contain dots, which postgres.js's identifier helper splits. */

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`
export const qualified = (schema: string, table: string): string => `${quoteIdent(schema)}.${quoteIdent(table)}`
export const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`
