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
import { isReadOnlyError, isSchemaError } from './classify.ts'
import { loadColumns } from './introspect.ts'
import { createPostgresSink } from './postgres.ts'
import { createRedshiftSink, lockRefusal } from './redshift.ts'
import { createTablePlans } from './tables.ts'

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
  const build = async (): Promise<Sink> => {
    await options.migrate()
    const plans = createTablePlans(options.schema, await loadColumns(sql, options.schema), options.onMissingColumns)
    if (options.dialect === 'postgres') return createPostgresSink({ sql, schema: options.schema, plans })
    const refusal = await lockRefusal(sql, options.schema)
    if (refusal) options.onCannotSerialise?.(refusal)
    return createRedshiftSink({ sql, schema: options.schema, plans, serialise: refusal === null })
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
    write: (batch: Batch): Promise<WriteResult> => leavingReadOnly(async () => {
      const sink = await current()
      writing.set(sink, (writing.get(sink) ?? 0) + 1)
      try {
        return await sink.write(batch)
      } catch (error) {
        if (isSchemaError(error)) {
          ready = null
          options.onTablesChanged?.(error)
        }
        throw error
      } finally {
        const left = (writing.get(sink) ?? 1) - 1
        if (left > 0) writing.set(sink, left)
        else writing.delete(sink)
      }
    }),
    abandon,
  }
}
