/** Reads the columns of the collector's tables from information_schema (both dialects). */
import type postgres from 'postgres'
import { resultRows } from '../db/result-rows.ts'
import type { ColumnInfo } from './tables.ts'

export async function loadColumns(sql: postgres.Sql, schema: string): Promise<Map<string, ColumnInfo[]>> {
  const rows = await sql.unsafe(
    `select table_name, column_name, data_type, character_maximum_length, coalesce(domain_name, udt_name) as type_name
       from information_schema.columns
      where table_schema = $1
      order by table_name, ordinal_position`,
    [schema],
  )
  const out = new Map<string, ColumnInfo[]>()
  for (const r of resultRows(rows)) {
    const list = out.get(String(r.table_name)) ?? []
    list.push({ column: String(r.column_name), dataType: String(r.data_type), typeName: String(r.type_name), maxLength: r.character_maximum_length === null ? null : Number(r.character_maximum_length) })
    out.set(String(r.table_name), list)
  }
  return out
}
