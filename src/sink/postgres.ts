/**
 * The PostgreSQL dialect: per batch one transaction; per table multi-row INSERTs in
 * power-of-two row counts (prepared once each, and under the protocol's 65,534 parameters); `ON CONFLICT (event_id) DO NOTHING
 * RETURNING event_id` on atomic.events decides which events are new, and only their entity
 * rows are inserted, so the shredded tables need no unique key of their own (a table
 * deployed from Snowplow's DDL has none) and a replayed batch loads once.
 */
import type postgres from 'postgres'
import type { Row } from '../events/event.ts'
import { uniqueEvents, type Batch, type Sink, type WriteResult } from './batch.ts'
import { powerOfTwoChunks, qualified, quoteIdent, valuesPlaceholders } from './sql-text.ts'
import { BAD_ROWS_TABLE, EVENTS_TABLE, rowValues, type TablePlan, type TablePlans } from './tables.ts'

const MAX_PARAMETERS = 65_000

/** `v_tracker` is `com.pagerduty-v1` (`-v2`, `-v3`): the part after the dash is the version. */
export const webhookVersion = (tracker: unknown): string =>
  typeof tracker === 'string' && tracker.includes('-') ? tracker.slice(tracker.lastIndexOf('-') + 1) : 'unknown'

export interface PostgresSinkOptions {
  sql: postgres.Sql
  schema: string
  plans: TablePlans
}

export function createPostgresSink({ sql, schema, plans }: PostgresSinkOptions): Sink {
  // Statement text per (plan, row count, suffix). Building `($1,...,$130),...` for a
  // 500-row chunk was the top entry of the writer's CPU profile (bench/profile.ts); the
  // power-of-two chunking keeps this to a few texts per table.
  const texts = new Map<TablePlan, Map<string, string>>()
  const statement = (plan: TablePlan, table: string, rows: number, suffix: string): string => {
    let byShape = texts.get(plan)
    if (!byShape) texts.set(plan, (byShape = new Map()))
    const key = `${rows}\u0000${suffix}`
    let text = byShape.get(key)
    if (text === undefined) {
      const columns = plan.columns.map((c) => quoteIdent(c.column)).join(',')
      text = `insert into ${qualified(schema, table)} (${columns}) values ${valuesPlaceholders(rows, plan.columns.length)} ${suffix}`
      byShape.set(key, text)
    }
    return text
  }

  async function insert(tx: postgres.TransactionSql, table: string, rows: Row[], suffix: string): Promise<postgres.Row[]> {
    const plan = plans.planFor(table, rows[0] as Row)
    const width = plan.columns.length
    const out: postgres.Row[] = []
    for (const part of powerOfTwoChunks(rows, Math.max(1, Math.floor(MAX_PARAMETERS / width)))) {
      const params: unknown[] = []
      for (const row of part) for (const value of rowValues(plan, row, 'chars')) params.push(value)
      const result = await tx.unsafe(statement(plan, table, part.length, suffix), params as postgres.ParameterOrJSON<never>[])
      for (const r of result) out.push(r)
    }
    return out
  }

  return {
    dialect: 'postgres',
    async write(batch: Batch): Promise<WriteResult> {
      const events = uniqueEvents(batch.events)
      return await sql.begin(async (tx) => {
        const eventRows = events.map((e) => (e.rows[0] as { row: Row }).row)
        const inserted = new Set<string>()
        if (eventRows.length > 0) {
          for (const r of await insert(tx, EVENTS_TABLE, eventRows, 'on conflict (event_id) do nothing returning event_id')) inserted.add(String(r.event_id))
        }
        const byTable = new Map<string, Row[]>()
        const loadedByVersion: Record<string, number> = {}
        for (const event of events) {
          if (!inserted.has(event.eventId)) continue
          const version = webhookVersion(event.rows[0]?.row.v_tracker)
          loadedByVersion[version] = (loadedByVersion[version] ?? 0) + 1
          for (const { table, row } of event.rows.slice(1)) {
            const rows = byTable.get(table) ?? []
            rows.push(row)
            byTable.set(table, rows)
          }
        }
        for (const [table, rows] of byTable) await insert(tx, table, rows, '')
        if (batch.badRows.length > 0) {
          await insert(tx, BAD_ROWS_TABLE, batch.badRows as unknown as Row[], 'on conflict (bad_row_id) do nothing')
        }
        return { loaded: inserted.size, duplicates: batch.events.length - inserted.size, badRows: batch.badRows.length, loadedByVersion }
      })
    },
  }
}
