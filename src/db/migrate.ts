/**
 * Creates the schema, tables and view when missing (`collector migrate`, and at every start).
 * The DDL lives in sql/<dialect>/ as plain files written for schema `atomic`; they are
 * embedded in the binary and the schema name is substituted. Existing tables are left as
 * they are: the writer adapts to the columns it finds (a Snowplow-deployed table included).
 */
import type postgres from 'postgres'
import type { Dialect } from '../config.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { quoteIdent } from '../sink/sql-text.ts'
import pgEvents from '../../sql/postgres/01_events.sql' with { type: 'text' }
import pgIncident1 from '../../sql/postgres/02_com_pagerduty_incident_1.sql' with { type: 'text' }
import pgV2Message1 from '../../sql/postgres/03_com_pagerduty_webhook_v2_message_1.sql' with { type: 'text' }
import pgV3Event1 from '../../sql/postgres/04_com_pagerduty_webhook_v3_event_1.sql' with { type: 'text' }
import pgBadRows from '../../sql/postgres/09_bad_rows.sql' with { type: 'text' }
import pgJsonCompression from '../../sql/postgres/10_json_compression.sql' with { type: 'text' }
import pgView from '../../sql/postgres/20_pagerduty_incident_events.sql' with { type: 'text' }
import rsEvents from '../../sql/redshift/01_events.sql' with { type: 'text' }
import rsIncident1 from '../../sql/redshift/02_com_pagerduty_incident_1.sql' with { type: 'text' }
import rsV2Message1 from '../../sql/redshift/03_com_pagerduty_webhook_v2_message_1.sql' with { type: 'text' }
import rsV3Event1 from '../../sql/redshift/04_com_pagerduty_webhook_v3_event_1.sql' with { type: 'text' }
import rsBadRows from '../../sql/redshift/09_bad_rows.sql' with { type: 'text' }
import rsView from '../../sql/redshift/20_pagerduty_incident_events.sql' with { type: 'text' }

/** A DDL file; `view` names the view it creates, if it creates one. */
export interface DdlFile { name: string; sql: string; view?: string }

const FILES: Record<Dialect, DdlFile[]> = {
  postgres: [
    { name: '01_events.sql', sql: pgEvents },
    { name: '02_com_pagerduty_incident_1.sql', sql: pgIncident1 },
    { name: '03_com_pagerduty_webhook_v2_message_1.sql', sql: pgV2Message1 },
    { name: '04_com_pagerduty_webhook_v3_event_1.sql', sql: pgV3Event1 },
    { name: '09_bad_rows.sql', sql: pgBadRows },
    // Storage tuning with no Redshift counterpart (Redshift compresses by column ENCODE).
    { name: '10_json_compression.sql', sql: pgJsonCompression },
    { name: '20_pagerduty_incident_events.sql', sql: pgView, view: 'pagerduty_incident_events' },
  ],
  // The same tables and view, in Redshift's DDL (encodings, distribution and sort keys, SUPER).
  redshift: [
    { name: '01_events.sql', sql: rsEvents },
    { name: '02_com_pagerduty_incident_1.sql', sql: rsIncident1 },
    { name: '03_com_pagerduty_webhook_v2_message_1.sql', sql: rsV2Message1 },
    { name: '04_com_pagerduty_webhook_v3_event_1.sql', sql: rsV3Event1 },
    { name: '09_bad_rows.sql', sql: rsBadRows },
    { name: '20_pagerduty_incident_events.sql', sql: rsView, view: 'pagerduty_incident_events' },
  ],
}

/** The DDL for `schema`: every `atomic.` qualifier replaced. */
export function ddlFor(dialect: Dialect, schema: string): DdlFile[] {
  return FILES[dialect].map((f) => ({ ...f, sql: f.sql.replace(/\batomic\./g, `${quoteIdent(schema)}.`) }))
}

export function printableDdl(dialect: Dialect, schema: string): string {
  return [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`, ...ddlFor(dialect, schema).map((f) => `-- ${f.name}\n${f.sql.trim()}`)].join('\n\n') + '\n'
}

export interface MigrateOptions {
  /**
   * Rewrites each file's SQL before it runs. Only the Redshift-on-PostgreSQL test suite uses
   * it, to strip the Redshift-only clauses (ENCODE, DISTKEY, ...); production runs the files as is.
   */
  transform?: (sql: string) => string
}

/** Applies the DDL; returns warnings for views that could not be created over older tables. */
export async function migrate(sql: postgres.Sql, dialect: Dialect, schema: string, options: MigrateOptions = {}): Promise<string[]> {
  const warnings: string[] = []
  const transform = options.transform ?? ((text: string) => text)
  try {
    await sql.begin(async (tx) => {
      // Several instances may start at once: one migrates, the others wait for it. Redshift
      // has no advisory locks; there a concurrent CREATE fails serialisation and is retried.
      if (dialect === 'postgres') await tx.unsafe('select pg_advisory_xact_lock(7242011)')
      await tx.unsafe(`create schema if not exists ${quoteIdent(schema)}`)
      for (const file of ddlFor(dialect, schema)) {
        if (file.view) continue
        await tx.unsafe(transform(file.sql)).simple()
      }
    })
  } catch (error) {
    throw new CollectorError('MIGRATION_FAILED', `cannot create the tables in schema ${schema}: ${errorMessage(error)}`, (error as { name?: string }).name !== 'PostgresError', { cause: error })
  }
  for (const file of ddlFor(dialect, schema).filter((f) => f.view)) {
    try {
      await sql.unsafe(transform(file.sql)).simple()
      // Redshift checks a late-binding view only when it is queried: a table deployed from
      // Snowplow's DDL lacks a column the view reads, and every query on the view would fail.
      await sql.unsafe(`select * from ${quoteIdent(schema)}.${quoteIdent(file.view as string)} where 1 = 0`)
    } catch (error) {
      warnings.push(`view from ${file.name} not created: ${errorMessage(error)} (an older table lacks a column the view reads)`)
    }
  }
  return warnings
}
