/**
 * The PostgreSQL dialect: one statement per batch, atomic by itself. Each table's rows go as
 * ONE parameter, a JSON array, expanded server-side by `json_to_recordset`: encoding tens of
 * thousands of bind parameters in JavaScript was the top of the writer's CPU profile
 * (postgres.js handleValue), while the server parses JSON in C. The statement chains
 * data-modifying CTEs: `INSERT INTO events ... ON CONFLICT (event_id) DO NOTHING RETURNING
 * event_id` decides which events are new, and only their entity rows are inserted (so the
 * shredded tables need no unique key of their own, as a table deployed from Snowplow's DDL
 * has none) and a replayed batch loads once. Bad rows are idempotent by bad_row_id.
 * Strings are cut to their column's width by `left()` (PostgreSQL's varchar(n) counts
 * characters), values cast to the column's type; a value that does not fit is a data error,
 * which the writer isolates.
 */
import type postgres from 'postgres'
import type { Row } from '../events/event.ts'
import { uniqueEvents, type Batch, type Sink, type WriteResult } from './batch.ts'
import { qualified, quoteIdent } from './sql-text.ts'
import { BAD_ROWS_TABLE, EVENTS_TABLE, type TablePlan, type TablePlans } from './tables.ts'

/** `v_tracker` is `com.pagerduty-v1` (`-v2`, `-v3`): the part after the dash is the version. */
export const webhookVersion = (tracker: unknown): string =>
  typeof tracker === 'string' && tracker.includes('-') ? tracker.slice(tracker.lastIndexOf('-') + 1) : 'unknown'

export interface PostgresSinkOptions {
  sql: postgres.Sql
  schema: string
  plans: TablePlans
}

/** The value of one column, read as text from the unnested arrays and made to fit the column. */
function columnExpression(c: TablePlan['columns'][number], i: number): string {
  const value = `u.c${i}`
  if (c.width !== null) return `left(${value}, ${c.width})`
  const type = c.typeName ?? 'text'
  return type === 'text' || type === 'varchar' || type === 'bpchar' ? value : `${value}::${quoteIdent(type)}`
}

/** `INSERT INTO t (cols) SELECT ... FROM unnest($n::text[], ...) AS u(c0, ...)`: one text[] per column. */
function insertFrom(schema: string, plan: TablePlan, firstParam: number): string {
  const columns = plan.columns.map((c) => quoteIdent(c.column)).join(', ')
  const select = plan.columns.map(columnExpression).join(', ')
  const arrays = plan.columns.map((_, i) => `$${firstParam + i}::text[]`).join(', ')
  const names = plan.columns.map((_, i) => `c${i}`).join(', ')
  return `insert into ${qualified(schema, plan.table)} (${columns}) select ${select} from unnest(${arrays}) as u(${names})`
}

/** A PostgreSQL array literal element: NULL, or the value's text quoted with \\ and \" escaped. */
const element = (value: unknown): string =>
  value === null || value === undefined ? 'NULL' : typeof value === 'number' ? String(value) : `"${String(value).replace(/[\\"]/g, '\\$&')}"`

/** One `{...}` text[] literal per planned column. */
function columnArrays(plan: TablePlan, rows: readonly Row[]): string[] {
  return plan.columns.map(({ key }) => {
    const parts = new Array<string>(rows.length)
    for (let r = 0; r < rows.length; r++) parts[r] = element((rows[r] as Row)[key])
    return `{${parts.join(',')}}`
  })
}

export function createPostgresSink({ sql, schema, plans }: PostgresSinkOptions): Sink {
  // Statement text per combination of plans: a handful, each prepared once per connection.
  const texts = new Map<string, string>()

  function statement(eventsPlan: TablePlan | null, entityPlans: TablePlan[], badPlan: TablePlan | null): string {
    const key = [eventsPlan, ...entityPlans, badPlan].map((p) => (p ? `${p.table}:${p.columns.map((c) => c.key).join(',')}` : '-')).join('|')
    let text = texts.get(key)
    if (text !== undefined) return text
    const ctes: string[] = []
    let param = 1
    if (eventsPlan) {
      ctes.push(`ins as (${insertFrom(schema, eventsPlan, param)} on conflict (event_id) do nothing returning event_id)`)
      param += eventsPlan.columns.length
    }
    entityPlans.forEach((plan, i) => {
      const rootId = plan.columns.findIndex((c) => c.key === 'root_id')
      ctes.push(`e${i} as (${insertFrom(schema, plan, param)} where u.c${rootId} in (select event_id from ins))`)
      param += plan.columns.length
    })
    if (badPlan) ctes.push(`bad as (${insertFrom(schema, badPlan, param)} on conflict (bad_row_id) do nothing)`)
    text = `with ${ctes.join(',\n')}\nselect ${eventsPlan ? 'event_id from ins' : 'null::text as event_id where false'}`
    texts.set(key, text)
    return text
  }

  return {
    dialect: 'postgres',
    async write(batch: Batch): Promise<WriteResult> {
      const events = uniqueEvents(batch.events)
      const eventRows = events.map((e) => (e.rows[0] as { row: Row }).row)
      const byTable = new Map<string, Row[]>()
      for (const event of events) {
        for (let i = 1; i < event.rows.length; i++) {
          const { table, row } = event.rows[i] as { table: string; row: Row }
          const rows = byTable.get(table)
          if (rows) rows.push(row)
          else byTable.set(table, [row])
        }
      }
      const eventsPlan = eventRows.length > 0 ? plans.planFor(EVENTS_TABLE, eventRows[0] as Row) : null
      const entities = [...byTable].map(([table, rows]) => ({ plan: plans.planFor(table, rows[0] as Row), rows }))
      const badRows = batch.badRows as unknown as Row[]
      const badPlan = badRows.length > 0 ? plans.planFor(BAD_ROWS_TABLE, badRows[0] as Row) : null
      if (!eventsPlan && !badPlan) return { loaded: 0, duplicates: 0, badRows: 0, loadedByVersion: {} }

      const params: string[] = []
      if (eventsPlan) params.push(...columnArrays(eventsPlan, eventRows))
      for (const { plan, rows } of entities) params.push(...columnArrays(plan, rows))
      if (badPlan) params.push(...columnArrays(badPlan, badRows))
      const inserted = await sql.unsafe(statement(eventsPlan, entities.map((e) => e.plan), badPlan), params)

      const versionOf = new Map(events.map((e) => [e.eventId, webhookVersion(e.rows[0]?.row.v_tracker)]))
      const loadedByVersion: Record<string, number> = {}
      for (const r of inserted) {
        const version = versionOf.get(String(r.event_id)) ?? 'unknown'
        loadedByVersion[version] = (loadedByVersion[version] ?? 0) + 1
      }
      return { loaded: inserted.length, duplicates: batch.events.length - inserted.length, badRows: batch.badRows.length, loadedByVersion }
    },
  }
}
