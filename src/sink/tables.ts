/**
 * What the writer knows about the tables: their real columns, read from
 * information_schema at start, matched to the keys of the rows the adapters build. A column
 * the table lacks is skipped (the whole message stays in its JSON column); a table deployed
 * from Snowplow's own DDL is filled under its old column names.
 */
import type { Row } from '../events/event.ts'
import { TablesChangedError } from './classify.ts'

export const EVENTS_TABLE = 'events'
export const BAD_ROWS_TABLE = 'bad_rows'

/** Our column name -> names an older deployment may use instead. */
export const LEGACY_COLUMNS: Record<string, Record<string, readonly string[]>> = {
  com_pagerduty_incident_1: {
    // Snowplow's incident_1.sql drops the dot (and its JSONPaths file never filled them).
    'data.incident.escalation_policy.id': ['data.incident.escalation_policyid'],
    'data.incident.escalation_policy.name': ['data.incident.escalation_policyname'],
    'data.incident.escalation_policy.deleted_at': ['data.incident.escalation_policydeleted_at'],
  },
}

/**
 * The keys the adapters fill with JSON text of their own making (JSON.stringify of one parsed
 * value), per table: the collector's own JSON columns. Only these may travel as one JSON array
 * per batch (postgres.ts), which needs each cell to be exactly one JSON value. A column a DBA
 * retyped as jsonb gets text that need not be, and is cast row by row as before.
 */
export const JSON_TEXT_KEYS: Record<string, readonly string[]> = {
  com_pagerduty_incident_1: ['data.incident.assigned_to', 'data.incident.pending_actions', 'raw_message'],
  com_pagerduty_webhook_v2_message_1: ['incident.assignments', 'incident.acknowledgements', 'incident.teams', 'incident.resolve_reason', 'log_entries', 'raw_message'],
  com_pagerduty_webhook_v3_event_1: ['incident.assignees', 'data', 'raw_message'],
}

/** information_schema data_type of JSON columns ("super" on Redshift). */
const JSON_TYPES = /^(json|jsonb|super)$/i

export interface ColumnInfo {
  column: string
  dataType: string
  /** The type's own name (udt_name, or the domain's), usable in a cast: int4, timestamp, jsonb. */
  typeName?: string
  maxLength: number | null
}

export interface PlannedColumn {
  /** The row key that fills this column. */
  key: string
  /** The table's column name. */
  column: string
  /** varchar/char width, or null when unbounded. */
  width: number | null
  /** A JSON column (jsonb on PostgreSQL, SUPER on Redshift): its value is JSON text. */
  json: boolean
  /** A JSON column the adapters fill with one JSON value each (JSON_TEXT_KEYS). */
  jsonText: boolean
  /** The column's type name for a cast, when known. */
  typeName?: string
}

export interface TablePlan { table: string; columns: PlannedColumn[]; missing: string[] }

/**
 * The warning for columns a table lacks. Their values stay in raw_message, unless raw_message
 * is among them (a table from Snowplow's own DDL has none): then they are stored nowhere. A
 * bad_rows table from before its request column keeps no request context.
 */
export function missingColumnsWarning(table: string, keys: readonly string[]): string {
  if (table === BAD_ROWS_TABLE) return 'bad_rows lacks columns: bad rows are stored without them (request: `bad-rows retry` then takes app_id and the rest from its QUERY argument); add them: ALTER TABLE <schema>.bad_rows ADD COLUMN request text (varchar(65535) on Redshift)'
  return keys.includes('raw_message')
    ? 'table lacks columns, raw_message among them: those values are not stored (add the columns: collector migrate --print shows them)'
    : 'table lacks columns: those values stay in its JSON column only'
}

/** Matches the row keys to the table's columns; `keys` are every key the adapters write. */
export function planTable(table: string, infos: readonly ColumnInfo[], keys: readonly string[]): TablePlan {
  const byName = new Map(infos.map((i) => [i.column, i]))
  const legacy = LEGACY_COLUMNS[table] ?? {}
  const columns: PlannedColumn[] = []
  const missing: string[] = []
  for (const key of keys) {
    const info = byName.get(key) ?? (legacy[key] ?? []).map((name) => byName.get(name)).find((i) => i !== undefined)
    if (!info) { missing.push(key); continue }
    const bounded = /char/i.test(info.dataType) && info.maxLength !== null
    const json = JSON_TYPES.test(info.dataType)
    columns.push({
      key, column: info.column, width: bounded ? info.maxLength : null, json, jsonText: json && (JSON_TEXT_KEYS[table] ?? []).includes(key),
      ...(info.typeName ? { typeName: info.typeName } : {}),
    })
  }
  return { table, columns, missing }
}

/**
 * Cuts a string to `width` without splitting a character. Redshift's varchar(n) counts
 * bytes (UTF-8), PostgreSQL's counts characters.
 */
export function truncate(value: string, width: number, unit: 'bytes' | 'chars'): string {
  if (unit === 'chars') {
    if (value.length <= width) return value
    const chars = Array.from(value)
    return chars.length <= width ? value : chars.slice(0, width).join('')
  }
  if (value.length * 3 <= width) return value // cannot exceed: at most 3 UTF-8 bytes per UTF-16 unit
  const bytes = Buffer.from(value, 'utf8')
  if (bytes.length <= width) return value
  let end = width
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end-- // step back off continuation bytes
  return bytes.subarray(0, end).toString('utf8')
}

/** The values of one row in plan order, strings cut to their column width. */
export function rowValues(plan: TablePlan, row: Row, unit: 'bytes' | 'chars'): unknown[] {
  return plan.columns.map(({ key, width }) => {
    const value = row[key] ?? null
    return typeof value === 'string' && width !== null ? truncate(value, width, unit) : value
  })
}

/** Plans per table and row shape, built on first use from the introspected columns. */
export interface TablePlans {
  planFor(table: string, sample: Row): TablePlan
  tables(): string[]
  /** The columns of `table` the plans made so far write to. */
  written(table: string): ReadonlySet<string>
}

export function createTablePlans(schema: string, columns: ReadonlyMap<string, readonly ColumnInfo[]>, onMissing?: (table: string, keys: string[]) => void): TablePlans {
  const cache = new Map<string, TablePlan>()
  return {
    planFor(table, sample) {
      const keys = Object.keys(sample)
      const cacheKey = `${table}\u0000${keys.join('\u0000')}`
      let plan = cache.get(cacheKey)
      if (!plan) {
        const infos = columns.get(table)
        // information_schema lists only what this login may use: a table it lost its grants
        // on looks missing. Either way the tables are read again before the retry.
        if (!infos) throw new TablesChangedError(`table ${schema}.${table} is not visible to this login: it is missing (run "collector migrate") or the login has no privilege on it`)
        plan = planTable(table, infos, keys)
        if (plan.missing.length > 0) onMissing?.(table, plan.missing)
        cache.set(cacheKey, plan)
      }
      return plan
    },
    tables: () => [...columns.keys()],
    // Asked only after a write failed: read off the cached plans, not kept up beside them.
    written: (table) => new Set([...cache.values()].filter((p) => p.table === table).flatMap((p) => p.columns.map((c) => c.column))),
  }
}
