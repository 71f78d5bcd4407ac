/**
 * The PostgreSQL dialect: one statement per batch, atomic by itself. Each column of a batch
 * goes as ONE parameter, a text[] expanded server-side by `unnest()` (a jsonb column: one
 * JSON array, by `jsonb_array_elements()`): encoding tens of thousands of bind parameters in
 * JavaScript was the top of the writer's CPU profile (postgres.js handleValue), while the
 * server parses an array literal in C. The statement
 * chains data-modifying CTEs: `INSERT INTO events ... ON CONFLICT (event_id) DO NOTHING
 * RETURNING event_id` decides which events are new, and only their entity rows are inserted
 * (so the shredded tables need no unique key of their own, as a table deployed from
 * Snowplow's DDL has none) and a replayed batch loads once. Bad rows are idempotent by
 * bad_row_id. The statement answers with one row per webhook version (inserted counts), not
 * one per event: parsing a thousand returned rows was a visible part of the writer's profile.
 * Strings are cut to their column's width by `left()` (PostgreSQL's varchar(n) counts
 * characters), values cast to the column's type; a value that does not fit is a data error,
 * which the writer isolates.
 */
import type postgres from 'postgres'
import type { Row } from '../events/event.ts'
import { uniqueEvents, webhookVersion, type Batch, type Sink, type WriteResult } from './batch.ts'
import { resultRows } from '../db/result-rows.ts'
import { qualified, quoteIdent, quoteLiteral } from './sql-text.ts'
import { BAD_ROWS_TABLE, EVENTS_TABLE, type PlannedColumn, type TablePlan, type TablePlans } from './tables.ts'


export interface PostgresSinkOptions {
  sql: postgres.Sql
  schema: string
  plans: TablePlans
}

/**
 * `query.cancel()`, whose promise postgres.js drops (3.4.x: `cancel()` returns nothing), so a
 * server that cannot be reached would reject it unhandled: the query's canceller, caught.
 * Without one (another postgres.js), nothing is cancelled.
 */
export function cancelQuietly(query: object): void {
  const q = query as { canceller?: unknown }
  const cancel = q.canceller
  if (typeof cancel !== 'function') return
  q.canceller = null
  Promise.resolve(cancel.call(null, query)).catch(() => {})
}

/**
 * A jsonb column the adapters fill (JSON_TEXT_KEYS) goes as ONE jsonb array, not as text[]:
 * the cells are JSON text already (JSON.stringify), so the array is their join, nothing escaped,
 * and PostgreSQL parses each value once. As a text[] element every quote of a message was
 * escaped in JavaScript and unescaped by the array parser before jsonb parsed it again, and
 * raw_message is most of a batch's bytes. SQL NULL goes as JSON null (the adapters store
 * JSON null as SQL NULL, so nothing is lost by reading it back that way). Measured with 200
 * v1 events per batch: PostgreSQL 46-50 us of CPU per event against 52-56, the writer's
 * JavaScript 15-16 us against 19-20.
 */
const jsonbArray = (c: PlannedColumn): boolean => c.jsonText && c.typeName === 'jsonb'

/**
 * The value of one column, read as text from its array (or as jsonb from its jsonb array) and
 * made to fit the column. A jsonb value that is SQL NULL (not JSON null) is ROWS FROM's
 * padding: its array was shorter than the batch, so it fails the batch as a data error (the
 * row's text in the message: a constant error would be raised while planning).
 */
function columnExpression(c: PlannedColumn, i: number, plan: TablePlan): string {
  const value = `u.c${i}`
  if (jsonbArray(c)) {
    const message = quoteLiteral(`a jsonb array of ${plan.table} is shorter than its batch (a cell was not one JSON value); column ${c.column}, row `)
    const rootId = plan.columns.findIndex((x) => x.key === 'root_id')
    const row = `u.c${rootId >= 0 ? rootId : plan.columns.findIndex((x) => !jsonbArray(x))}`
    return `case when ${value} is null then (${message} || coalesce(${row}, ''))::int::text::jsonb else nullif(${value}, 'null'::jsonb) end`
  }
  if (c.width !== null) return `left(${value}, ${c.width})`
  const type = c.typeName ?? 'text'
  return type === 'text' || type === 'varchar' || type === 'bpchar' ? value : `${value}::${quoteIdent(type)}`
}

/**
 * `INSERT INTO t (cols) SELECT ... FROM ROWS FROM (unnest($n::text[]), ...) AS u(c0, ...)`:
 * one text[] per column, or one jsonb array expanded by jsonb_array_elements, side by side.
 * ROWS FROM pads a shorter source with NULLs. Should a cell ever not be one JSON value (the
 * adapters' always are), the jsonb array is longer or shorter than the batch: a longer one
 * gives extra rows whose key (event_id, root_id, bad_row_id) is NULL, which reach the table
 * and fail on its NOT NULL, and a shorter one fails in columnExpression. Either is a data
 * error the writer isolates, rather than values shifted between rows. (Only cells that are
 * not JSON on their own can merge, `[1` and `2]`, and only a merge and a split together keep
 * the length.) `tail` follows the FROM clause.
 */
function insertFrom(schema: string, plan: TablePlan, firstParam: number, tail = ''): string {
  const columns = plan.columns.map((c) => quoteIdent(c.column)).join(', ')
  const select = plan.columns.map((c, i) => columnExpression(c, i, plan)).join(', ')
  const sources = plan.columns.map((c, i) => (jsonbArray(c) ? `jsonb_array_elements($${firstParam + i}::jsonb)` : `unnest($${firstParam + i}::text[])`)).join(', ')
  const names = plan.columns.map((_, i) => `c${i}`).join(', ')
  return `insert into ${qualified(schema, plan.table)} (${columns}) select ${select} from rows from (${sources}) as u(${names})${tail}`
}

/** One jsonb array of a column's JSON texts, `null` for SQL NULL. */
function jsonbArrayText(values: readonly unknown[]): string {
  const parts = new Array<string>(values.length)
  for (let r = 0; r < values.length; r++) {
    const v = values[r]
    parts[r] = v === null || v === undefined ? 'null' : String(v)
  }
  return `[${parts.join(',')}]`
}

/** A PostgreSQL array literal element: NULL, or the value's text quoted with \\ and \" escaped. */
const element = (value: unknown): string =>
  value === null || value === undefined ? 'NULL' : typeof value === 'number' ? String(value) : `"${String(value).replace(/[\\"]/g, '\\$&')}"`

/** A backslash that starts any JSON escape other than \" and \\ (\n, \t, \uXXXX, ...). */
const OTHER_JSON_ESCAPE = /\\[^"\\]/

/**
 * One column as a text[] literal. JSON.stringify of the values is the literal already, once
 * `[...]` becomes `{...}` (`null` is NULL to the array parser, case-insensitive), as long as
 * the only escapes in it are \" and \\, which mean the same in both. Any other escape (\n,
 * \u0001, a lone surrogate) the array parser would read differently, so such a column (rare:
 * JSON text stringified again, or a control character) takes the per-value path. Native
 * JSON.stringify made the literals of a v1 batch about half as costly as joining quoted
 * values (~11 -> ~6 us per event, measured on the benchmark machine).
 */
export function arrayLiteral(values: readonly unknown[]): string {
  let ok = true
  for (let i = 0; i < values.length; i++) {
    const t = typeof values[i]
    // Numbers: NaN and Infinity would stringify as null; booleans and objects never reach
    // a column (cells are strings, numbers or null), but if one did, keep String()'s text.
    if (t === 'number' ? !Number.isFinite(values[i] as number) : t !== 'string' && values[i] !== null && values[i] !== undefined) { ok = false; break }
  }
  if (ok) {
    const json = JSON.stringify(values) // undefined in an array stringifies as null
    if (!OTHER_JSON_ESCAPE.test(json)) return `{${json.slice(1, -1)}}`
  }
  const parts = new Array<string>(values.length)
  for (let r = 0; r < values.length; r++) parts[r] = element(values[r])
  return `{${parts.join(',')}}`
}

/** One parameter per planned column: a `{...}` text[] literal, or a jsonb array. */
function columnArrays(plan: TablePlan, rows: readonly Row[]): string[] {
  const values = new Array<unknown>(rows.length)
  return plan.columns.map((c) => {
    for (let r = 0; r < rows.length; r++) values[r] = (rows[r] as Row)[c.key]
    return jsonbArray(c) ? jsonbArrayText(values) : arrayLiteral(values)
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
      ctes.push(`ins as (${insertFrom(schema, eventsPlan, param)} on conflict (event_id) do nothing returning event_id, v_tracker)`)
      param += eventsPlan.columns.length
    }
    entityPlans.forEach((plan, i) => {
      const rootId = plan.columns.findIndex((c) => c.key === 'root_id')
      // Only the rows of events inserted now; a row without root_id is kept, to fail on its
      // NOT NULL (see insertFrom). A join, not `IN` under an OR, which PostgreSQL runs as a
      // SubPlan that rescans `ins` per row once it does not fit work_mem.
      const r = `u.c${rootId}`
      ctes.push(`e${i} as (${insertFrom(schema, plan, param, ` left join ins on ins.event_id = ${r} where ${r} is null or ins.event_id is not null`)})`)
      param += plan.columns.length
    })
    if (badPlan) ctes.push(`bad as (${insertFrom(schema, badPlan, param)} on conflict (bad_row_id) do nothing returning 1)`)
    // Inserted events by tracker, then (tracker null) the bad rows inserted: a replay's are
    // already there and count as none.
    const selects = [eventsPlan ? 'select v_tracker, count(*)::int as n from ins group by v_tracker' : 'select null::text as v_tracker, 0 as n where false']
    if (badPlan) selects.push('select null::text, count(*)::int from bad')
    text = `with ${ctes.join(',\n')}\n${selects.join('\nunion all ')}`
    texts.set(key, text)
    return text
  }

  /** The statements in flight, for `abandon`. */
  const inFlight = new Set<object>()

  return {
    dialect: 'postgres',
    /**
     * Cancels the statements in flight (a CancelRequest on a new connection, which the server
     * honours even if the statement's own connection went silent): a write abandoned while it
     * waits on a lock would otherwise keep its session, and the rows it inserted so far locked,
     * until the lock is released. Best effort: an unreachable server cancels nothing.
     */
    abandon() {
      for (const query of inFlight) cancelQuietly(query)
    },
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
      // Prepared once per connection (sql.unsafe's default is unnamed: every batch then paid a
      // Parse and Describe round trip and PostgreSQL planned the statement again).
      const query = sql.unsafe(statement(eventsPlan, entities.map((e) => e.plan), badPlan), params, { prepare: true })
      inFlight.add(query)
      const inserted = await query.finally(() => inFlight.delete(query))

      const loadedByVersion: Record<string, number> = {}
      let loaded = 0
      let badInserted = 0
      for (const r of resultRows(inserted)) {
        if (r.v_tracker === null) { badInserted += Number(r.n); continue }
        const version = webhookVersion(r.v_tracker)
        loadedByVersion[version] = (loadedByVersion[version] ?? 0) + Number(r.n)
        loaded += Number(r.n)
      }
      return { loaded, duplicates: batch.events.length - loaded, badRows: badInserted, loadedByVersion }
    },
  }
}
