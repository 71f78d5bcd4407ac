/**
 * The Amazon Redshift dialect. Redshift speaks the PostgreSQL protocol but has no
 * ON CONFLICT, RETURNING, unnest, arrays, jsonb, COPY FROM STDIN or VALUES as a table, and
 * does not enforce unique keys (docs.aws.amazon.com/redshift/latest/dg/
 * c_unsupported-postgresql-features.html). So, per batch, in one transaction:
 *
 *   1. the batch's events go into a temporary staging table shaped like atomic.events
 *      (multi-row INSERTs within the statement budget, see budget.ts);
 *   2. `DELETE FROM stage USING events` drops those already loaded (a retry, a replay);
 *   3. the event ids left are read back: they are the new events;
 *   4. `INSERT INTO events SELECT FROM stage` loads them, and the new events' entity rows
 *      go straight into their tables (they need no key of their own, like in postgres.ts);
 *   5. bad rows take the same staging path, keyed by bad_row_id.
 *
 * AWS's documented upsert pattern (t_updating-inserting-using-staging-tables-.html), keeping
 * the first copy of an event rather than replacing it. Two transactions loading the same event
 * at once (two collectors, or one collector's two batches in flight) must not both find it
 * new: under snapshot isolation, Redshift's default for new clusters since 2024 and
 * Serverless's always, neither would see the other's row and both would insert it. So a
 * collector writes one batch at a time (the writer's concurrency is 1 on Redshift), and each
 * transaction first LOCKs the bad rows table, before any statement takes its snapshot
 * (c_serial_isolation.html): a second collector's load waits for the first to commit, then
 * sees its rows. The bad rows table, not events: LOCK is ACCESS EXCLUSIVE and blocks reads,
 * and analysts read events. A login that may not lock it (the owner may; with only SELECT
 * and INSERT it may not) loads without the lock, with a warning at start.
 * Strings are cut to their column's width in bytes (Redshift's varchar(n) counts bytes);
 * JSON columns are SUPER, filled with JSON_PARSE, which reads at most 65,535 bytes: an event
 * with a longer JSON value is refused before sending (RowRejectedError) and kept in bad rows.
 */
import type postgres from 'postgres'
import type { Row } from '../events/event.ts'
import { uniqueEvents, webhookVersion, type Batch, type Sink, type WriteResult } from './batch.ts'
import { resultRows } from '../db/result-rows.ts'
import { RowRejectedError } from './classify.ts'
import { fitStatements, REDSHIFT_BUDGET, type StatementBudget } from './budget.ts'
import { qualified, quoteIdent } from './sql-text.ts'
import { fitBase64Payload } from '../events/raw-body.ts'
import { BAD_ROWS_TABLE, EVENTS_TABLE, rowValues, type TablePlan, type TablePlans } from './tables.ts'

export interface RedshiftSinkOptions {
  sql: postgres.Sql
  schema: string
  plans: TablePlans
  budget?: StatementBudget
  /** LOCK the bad rows table first in each transaction (see above); default true. */
  serialise?: boolean
}

/**
 * Whether this login may LOCK the bad rows table: tried once, in a transaction of its own.
 * Returns the refusal (SQLSTATE 42501) when it may not; any other failure is thrown.
 */
export async function lockRefusal(sql: postgres.Sql, schema: string): Promise<unknown> {
  try {
    await sql.begin(async (tx) => { await tx.unsafe(`LOCK ${qualified(schema, BAD_ROWS_TABLE)}`) })
    return null
  } catch (error) {
    if ((error as { code?: unknown }).code === '42501') return error
    throw error
  }
}

type Tx = postgres.TransactionSql

/** The longest text JSON_PARSE takes: Redshift's largest VARCHAR (limitations-super.html). */
export const JSON_PARSE_MAX_BYTES = 65_535

/** Refuses a batch holding an event that cannot load: the writer isolates it into bad rows. */
function checkJsonWidths(plans: TablePlans, events: Batch['events']): void {
  for (const event of events) {
    for (const { table, row } of event.rows) {
      for (const c of plans.planFor(table, row).columns) {
        const value = row[c.key]
        if (!c.json || typeof value !== 'string' || value.length * 3 <= JSON_PARSE_MAX_BYTES) continue
        const bytes = Buffer.byteLength(value)
        if (bytes > JSON_PARSE_MAX_BYTES) {
          throw new RowRejectedError(`${table}.${c.column}: a JSON value of ${bytes} bytes; Redshift's JSON_PARSE reads at most ${JSON_PARSE_MAX_BYTES}`)
        }
      }
    }
  }
}

/** `($1,JSON_PARSE($2)),(...)` for `rows` rows of `plan`'s columns. */
function tuples(plan: TablePlan, rows: number): string {
  const out: string[] = new Array(rows)
  let n = 1
  for (let r = 0; r < rows; r++) out[r] = `(${plan.columns.map((c) => (c.json ? `JSON_PARSE($${n++})` : `$${n++}`)).join(',')})`
  return out.join(',')
}

export function createRedshiftSink({ sql, schema, plans, budget = REDSHIFT_BUDGET, serialise = true }: RedshiftSinkOptions): Sink {
  let stages = 0

  /** Multi-row INSERTs of `rows` into `target` (a qualified table or a staging table). */
  async function insertRows(tx: Tx, target: string, plan: TablePlan, rows: readonly Row[]): Promise<void> {
    const columns = plan.columns.map((c) => quoteIdent(c.column)).join(',')
    const head = `INSERT INTO ${target} (${columns}) VALUES `
    const values = rows.map((row) => rowValues(plan, row, 'bytes'))
    // Text one row adds: "($12345,JSON_PARSE($12346)),": at most 8 bytes a plain cell, 20 a JSON one.
    const rowText = 2 + plan.columns.reduce((n, c) => n + (c.json ? 20 : 8), 0)
    for (const part of fitStatements(values, rowText, head.length, budget)) {
      await tx.unsafe(head + tuples(plan, part.length), part.flat() as postgres.ParameterOrJSON<never>[])
    }
  }

  /**
   * Stages `rows` of `table`, drops those whose `key` is already in the table, inserts the
   * rest, and returns their keys. The staging table lives for this transaction only.
   */
  async function stageAndLoad(tx: Tx, table: string, key: string, rows: readonly Row[]): Promise<Set<string>> {
    const plan = plans.planFor(table, rows[0] as Row)
    const keyColumn = plan.columns.find((c) => c.key === key)?.column
    if (!keyColumn) throw new Error(`table ${schema}.${table} has no ${key} column`)
    const target = qualified(schema, table)
    const stage = quoteIdent(`pdc_stage_${++stages}`)
    const k = quoteIdent(keyColumn)
    const columns = plan.columns.map((c) => quoteIdent(c.column)).join(',')
    await tx.unsafe(`CREATE TEMP TABLE ${stage} (LIKE ${target})`)
    await insertRows(tx, stage, plan, rows)
    await tx.unsafe(`DELETE FROM ${stage} USING ${target} WHERE ${stage}.${k} = ${target}.${k}`)
    const fresh = new Set<string>()
    for (const r of resultRows(await tx.unsafe(`SELECT ${k} AS key FROM ${stage}`))) fresh.add(String(r.key).trimEnd())
    if (fresh.size > 0) await tx.unsafe(`INSERT INTO ${target} (${columns}) SELECT ${columns} FROM ${stage}`)
    await tx.unsafe(`DROP TABLE ${stage}`)
    return fresh
  }

  /** Base64 payloads cut where they still decode (fitBase64Payload), when the column is narrower. */
  function fitPayloads(badRows: Batch['badRows']): Batch['badRows'] {
    const width = plans.planFor(BAD_ROWS_TABLE, badRows[0] as unknown as Row).columns.find((c) => c.key === 'payload')?.width ?? null
    return width === null ? badRows : badRows.map((b) => fitBase64Payload(b, width))
  }

  return {
    dialect: 'redshift',
    async write(batch: Batch): Promise<WriteResult> {
      const events = uniqueEvents(batch.events)
      const seenBad = new Set<string>()
      const badRows = batch.badRows.filter((b) => (seenBad.has(b.bad_row_id) ? false : (seenBad.add(b.bad_row_id), true)))
      checkJsonWidths(plans, events)
      return await sql.begin(async (tx) => {
        // First, before any statement takes the transaction's snapshot (see above).
        if (serialise) await tx.unsafe(`LOCK ${qualified(schema, BAD_ROWS_TABLE)}`)
        const fresh = events.length > 0
          ? await stageAndLoad(tx, EVENTS_TABLE, 'event_id', events.map((e) => (e.rows[0] as { row: Row }).row))
          : new Set<string>()
        const byTable = new Map<string, Row[]>()
        for (const event of events) {
          if (!fresh.has(event.eventId)) continue
          for (const { table, row } of event.rows.slice(1)) {
            const rows = byTable.get(table) ?? []
            rows.push(row)
            byTable.set(table, rows)
          }
        }
        for (const [table, rows] of byTable) {
          await insertRows(tx, qualified(schema, table), plans.planFor(table, rows[0] as Row), rows)
        }
        // Only those not loaded already count: a replay's bad rows are in the table.
        const freshBad = badRows.length > 0 ? await stageAndLoad(tx, BAD_ROWS_TABLE, 'bad_row_id', fitPayloads(badRows) as unknown as Row[]) : new Set<string>()
        const loadedByVersion: Record<string, number> = {}
        for (const event of events) {
          if (!fresh.has(event.eventId)) continue
          const version = webhookVersion((event.rows[0] as { row: Row }).row.v_tracker)
          loadedByVersion[version] = (loadedByVersion[version] ?? 0) + 1
        }
        return { loaded: fresh.size, duplicates: batch.events.length - fresh.size, badRows: freshBad.size, loadedByVersion }
      })
    },
  }
}
