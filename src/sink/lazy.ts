/**
 * The sink as the writer sees it: connecting, migrating and reading the table columns happen
 * when the writer starts (`prepare`), or on first use, and again after a failure, so a
 * database that is down at start only delays loading; webhooks are acknowledged from the
 * spool meanwhile. They happen again, too, after
 * a write fails because the tables changed (a column or a table dropped): the retry then
 * migrates (a dropped table comes back) and plans from the columns as they are now, instead
 * of failing the same way until someone restarts the collector. `abandon` (a write timed out)
 * closes the connections and starts over on new ones, and so does a write refused because the
 * server turned read-only (a failover), so that the retry finds the new primary.
 */
import type postgres from 'postgres'
import type { Dialect } from '../config.ts'
import type { Batch, Sink, WriteResult } from './batch.ts'
import { describeWithoutValues, isDataError, isReadOnlyError, isSchemaError, isTableCausedError, TablesChangedError } from './classify.ts'
import { loadColumns } from './introspect.ts'
import { createPostgresSink } from './postgres.ts'
import { createRedshiftSink, lockRefusal } from './redshift.ts'
import { createTablePlans, type ColumnInfo, type TablePlans } from './tables.ts'

/** How often the columns are read again while writes go well (a column widened by a DBA). */
const REFRESH_COLUMNS_MS = 5 * 60_000
/** After a data error, the columns are read again at most this often (an isolation makes many). */
const REREAD_ON_DATA_ERROR_MS = 5_000

export interface LazySinkOptions {
  sql: postgres.Sql
  /**
   * Closes the pool's connections, failing what is in flight on them, and returns a new pool
   * to write with (without it, `abandon` only reads the tables again).
   */
  reconnect?: () => postgres.Sql
  dialect: Dialect
  schema: string
  migrate(): Promise<void>
  onMissingColumns?: (table: string, keys: string[]) => void
  /** The server refused a write as read-only; the connections are replaced before the retry. */
  onReadOnly?: (error: unknown) => void
  /** A write failed because the tables changed; they are read again before the next one. */
  onTablesChanged?: (error: unknown) => void
  /** Redshift: this login may not LOCK the bad rows table; loads go unserialised (redshift.ts). */
  onCannotSerialise?: (error: unknown) => void
  /** How often the columns are read again (default 5 min): a column widened is then used at its width. */
  refreshColumnsMs?: number
}

export function createLazySink(options: LazySinkOptions): Sink {
  let sql = options.sql
  let ready: Promise<Sink> | null = null
  /**
   * Dialect sinks with writes in flight, and how many: the statements `abandon` cancels run
   * only inside their writes, on the newest sink or on one replaced after a schema error that
   * may still be waiting on a lock (at most as many sinks as the writer has batches in flight).
   */
  const writing = new Map<Sink, number>()
  /** The plans of each dialect sink built, and the columns they were made from. */
  const made = new WeakMap<Sink, { plans: TablePlans; columns: string }>()
  /** When the columns were last read; a width or type a DBA changed shows only in a re-read. */
  let readAt = 0
  /** When a data error last had them read again (an isolation's many writes read them once). */
  let rereadForDataAt = -Infinity
  /** That re-read, while it runs. */
  let rereading: Promise<boolean> | null = null
  const refreshMs = options.refreshColumnsMs ?? REFRESH_COLUMNS_MS
  const fromColumns = async (columns: Map<string, ColumnInfo[]>): Promise<Sink> => {
    readAt = performance.now()
    const plans = createTablePlans(options.schema, columns, options.onMissingColumns)
    let sink: Sink
    if (options.dialect === 'postgres') sink = createPostgresSink({ sql, schema: options.schema, plans })
    else {
      const refusal = await lockRefusal(sql, options.schema)
      if (refusal) options.onCannotSerialise?.(refusal)
      sink = createRedshiftSink({ sql, schema: options.schema, plans, serialise: refusal === null })
    }
    made.set(sink, { plans, columns: JSON.stringify([...columns]) })
    return sink
  }
  const build = async (): Promise<Sink> => {
    await options.migrate()
    return fromColumns(await loadColumns(sql, options.schema))
  }
  /**
   * Reads the columns again; when they differ from the ones `sink` was planned with (a width,
   * a type), the next write uses a sink planned from them, and true. Never throws.
   */
  async function replannedAfter(sink: Sink): Promise<boolean> {
    try {
      const columns = await loadColumns(sql, options.schema)
      readAt = performance.now()
      if (JSON.stringify([...columns]) === made.get(sink)?.columns) return false
      const next = fromColumns(columns)
      ready = next
      await next
      return true
    } catch {
      return false
    }
  }
  /**
   * Why a data error is the tables' doing, not the rows' (null: it is the rows'). A table that
   * refuses every row is read again before the retry. A value too long for a column narrowed
   * since the columns were read: they are read again (at most every few seconds: isolating a
   * batch makes many such writes) and the batch is retried whole, cut to the new width.
   */
  async function tableCause(error: unknown, sink: Sink): Promise<string | null> {
    const plans = made.get(sink)?.plans
    if (plans && isTableCausedError(error, plans.written)) {
      ready = null
      return 'the table refuses every row'
    }
    if (!isDataError(error)) return null
    // A write planned before the columns were last read again (by the other batch in flight,
    // say): retried on the new plan, not isolated on the old one.
    const now = await (ready ?? Promise.resolve(null)).catch(() => null)
    if (now !== sink) return 'the columns changed'
    if (rereading === null) {
      if (performance.now() - rereadForDataAt <= REREAD_ON_DATA_ERROR_MS) return null
      rereadForDataAt = performance.now()
      rereading = replannedAfter(sink).finally(() => { rereading = null })
    }
    // Every data error meanwhile waits for the same re-read.
    return (await rereading) ? 'the columns changed' : null
  }

  async function current(): Promise<Sink> {
    const attempt = (ready ??= build())
    try {
      return await attempt
    } catch (error) {
      // Unless a newer attempt has begun meanwhile (after `abandon`).
      if (ready === attempt) ready = null
      throw error
    }
  }
  function abandon(): void {
    for (const sink of writing.keys()) sink.abandon?.()
    ready = null
    if (options.reconnect) sql = options.reconnect()
  }
  async function leavingReadOnly<T>(work: () => Promise<T>): Promise<T> {
    const pool = sql
    try {
      return await work()
    } catch (error) {
      // Once per pool: the other batch's refusal from the same old pool must not end the new one.
      if (isReadOnlyError(error) && sql === pool) {
        options.onReadOnly?.(error)
        abandon()
      }
      throw error
    }
  }
  return {
    dialect: options.dialect,
    async prepare() {
      await leavingReadOnly(current)
    },
    async ping() {
      await sql`select 1`
    },
    write: (batch: Batch): Promise<WriteResult> => leavingReadOnly(async () => {
      let sink = await current()
      // Now and then the columns are read again: a column widened is used at its new width.
      if (performance.now() - readAt > refreshMs && await replannedAfter(sink)) sink = await current()
      writing.set(sink, (writing.get(sink) ?? 0) + 1)
      try {
        return await sink.write(batch)
      } catch (error) {
        if (isSchemaError(error) || error instanceof TablesChangedError) {
          ready = null
          options.onTablesChanged?.(error)
          throw error
        }
        const why = await tableCause(error, sink)
        if (why === null) throw error
        // Logged and shown in /ready: the database's words without the row they quote.
        const changed = new TablesChangedError(`${describeWithoutValues(error)} (${why}: the batch waits in the spool and is retried whole)`, { cause: error })
        options.onTablesChanged?.(changed)
        throw changed
      } finally {
        const left = (writing.get(sink) ?? 1) - 1
        if (left > 0) writing.set(sink, left)
        else writing.delete(sink)
      }
    }),
    abandon,
  }
}
