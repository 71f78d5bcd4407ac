/**
 * Creates the schema, tables and view when missing (`collector migrate`, and at every start).
 * The DDL lives in sql/<dialect>/ as plain files written for schema `atomic`; they are
 * embedded in the binary and the schema name is substituted. Existing tables are left as
 * they are: the writer adapts to the columns it finds (a Snowplow-deployed table included).
 */
import type postgres from 'postgres'
import type { Dialect } from '../config.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { createHash } from 'node:crypto'
import { quoteIdent, quoteLiteral } from '../sink/sql-text.ts'
import { resultRows } from './result-rows.ts'
import pgEvents from '../../sql/postgres/01_events.sql' with { type: 'text' }
import pgIncident1 from '../../sql/postgres/02_com_pagerduty_incident_1.sql' with { type: 'text' }
import pgV2Message1 from '../../sql/postgres/03_com_pagerduty_webhook_v2_message_1.sql' with { type: 'text' }
import pgV3Event1 from '../../sql/postgres/04_com_pagerduty_webhook_v3_event_1.sql' with { type: 'text' }
import pgBadRows from '../../sql/postgres/09_bad_rows.sql' with { type: 'text' }
import pgJsonCompression from '../../sql/postgres/10_json_compression.sql' with { type: 'text' }
import pgBadRowsRequest from '../../sql/postgres/11_bad_rows_request.sql' with { type: 'text' }
import pgView from '../../sql/postgres/20_pagerduty_incident_events.sql' with { type: 'text' }
import pgIncidents from '../../sql/postgres/21_pagerduty_incidents.sql' with { type: 'text' }
import rsEvents from '../../sql/redshift/01_events.sql' with { type: 'text' }
import rsIncident1 from '../../sql/redshift/02_com_pagerduty_incident_1.sql' with { type: 'text' }
import rsV2Message1 from '../../sql/redshift/03_com_pagerduty_webhook_v2_message_1.sql' with { type: 'text' }
import rsV3Event1 from '../../sql/redshift/04_com_pagerduty_webhook_v3_event_1.sql' with { type: 'text' }
import rsBadRows from '../../sql/redshift/09_bad_rows.sql' with { type: 'text' }
import rsView from '../../sql/redshift/20_pagerduty_incident_events.sql' with { type: 'text' }

/**
 * Redshift's incidents view: PostgreSQL's file, late-binding like the view it reads (all the
 * two differ in), so the two can never give different rows.
 */
const rsIncidents = `${pgIncidents.trimEnd().replace(/;$/, '')}\nWITH NO SCHEMA BINDING;\n`

/**
 * A DDL file: the table or view it creates, if it creates one (else a step run at every migration).
 * `marked`: a view every collector that created it commented with its marker (PostgreSQL), so
 * one of that name without the marker is someone else's (an analyst's view that happens to
 * bear the name), never to be replaced or dropped.
 */
export interface DdlFile { name: string; sql: string; table?: string; view?: string; marked?: boolean }

const FILES: Record<Dialect, DdlFile[]> = {
  postgres: [
    { name: '01_events.sql', sql: pgEvents, table: 'events' },
    { name: '02_com_pagerduty_incident_1.sql', sql: pgIncident1, table: 'com_pagerduty_incident_1' },
    { name: '03_com_pagerduty_webhook_v2_message_1.sql', sql: pgV2Message1, table: 'com_pagerduty_webhook_v2_message_1' },
    { name: '04_com_pagerduty_webhook_v3_event_1.sql', sql: pgV3Event1, table: 'com_pagerduty_webhook_v3_event_1' },
    { name: '09_bad_rows.sql', sql: pgBadRows, table: 'bad_rows' },
    // Storage tuning with no Redshift counterpart (Redshift compresses by column ENCODE).
    { name: '10_json_compression.sql', sql: pgJsonCompression },
    // A column added since: given to a bad_rows table created before it.
    { name: '11_bad_rows_request.sql', sql: pgBadRowsRequest },
    { name: '20_pagerduty_incident_events.sql', sql: pgView, view: 'pagerduty_incident_events' },
    // Reads the view above: created after it.
    { name: '21_pagerduty_incidents.sql', sql: pgIncidents, view: 'pagerduty_incidents', marked: true },
  ],
  // The same tables and view, in Redshift's DDL (encodings, distribution and sort keys, SUPER).
  redshift: [
    { name: '01_events.sql', sql: rsEvents, table: 'events' },
    { name: '02_com_pagerduty_incident_1.sql', sql: rsIncident1, table: 'com_pagerduty_incident_1' },
    { name: '03_com_pagerduty_webhook_v2_message_1.sql', sql: rsV2Message1, table: 'com_pagerduty_webhook_v2_message_1' },
    { name: '04_com_pagerduty_webhook_v3_event_1.sql', sql: rsV3Event1, table: 'com_pagerduty_webhook_v3_event_1' },
    { name: '09_bad_rows.sql', sql: rsBadRows, table: 'bad_rows' },
    { name: '20_pagerduty_incident_events.sql', sql: rsView, view: 'pagerduty_incident_events' },
    { name: '21_pagerduty_incidents.sql', sql: rsIncidents, view: 'pagerduty_incidents' },
  ],
}

/** The DDL for `schema`: every `atomic.` qualifier replaced. */
export function ddlFor(dialect: Dialect, schema: string): DdlFile[] {
  return FILES[dialect].map((f) => ({ ...f, sql: f.sql.replace(/\batomic\./g, `${quoteIdent(schema)}.`) }))
}

export function printableDdl(dialect: Dialect, schema: string): string {
  // A view with the comment the collector gives it (PostgreSQL): applied by a DBA, it is as the
  // collector's own (a `marked` view without it is taken for someone else's).
  // In a transaction with its view: psql goes on after an error by default, and a CREATE OR
  // REPLACE that failed (an older view whose columns changed) must not leave the older view
  // with this version's marker, which every later start and `collector migrate` take for done.
  const text = (f: DdlFile) => (dialect === 'postgres' && f.view
    ? `BEGIN;\n${f.sql.trim()}\nCOMMENT ON VIEW ${quoteIdent(schema)}.${quoteIdent(f.view)} IS ${quoteLiteral(viewMarker(f.sql))};\nCOMMIT;`
    : f.sql.trim())
  return [`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)};`, ...ddlFor(dialect, schema).map((f) => `-- ${f.name}\n${text(f)}`)].join('\n\n') + '\n'
}

export interface MigrateOptions {
  /**
   * Rewrites each file's SQL before it runs. Only the Redshift-on-PostgreSQL test suite uses
   * it, to strip the Redshift-only clauses (ENCODE, DISTKEY, ...); production runs the files as is.
   */
  transform?: (sql: string) => string
}

/** What exists in `schema` already, whether the collector's login owns it, and its comment (PostgreSQL). */
interface Existing { schema: boolean; relations: Map<string, { owned: boolean; comment: string | null }> }

async function existing(sql: postgres.Sql | postgres.TransactionSql, schema: string, dialect: Dialect): Promise<Existing> {
  // pg_namespace and pg_class: on PostgreSQL and on Redshift alike, and unlike
  // information_schema they list what the login may not use as well.
  const comment = dialect === 'postgres' ? `obj_description(c.oid, 'pg_class')` : 'null'
  const rows = resultRows(await sql.unsafe(
    `select n.nspname is not null as schema, c.relname, pg_get_userbyid(c.relowner) = current_user as owned, ${comment} as comment
     from (select 1) one left join pg_namespace n on n.nspname = $1 left join pg_class c on c.relnamespace = n.oid and c.relkind in ('r', 'v', 'p')`,
    [schema],
  ))
  const relations = new Map<string, { owned: boolean; comment: string | null }>()
  for (const r of rows) if (r.relname !== null) relations.set(String(r.relname), { owned: r.owned === true, comment: r.comment === null ? null : String(r.comment) })
  return { schema: rows[0]?.schema === true, relations }
}

/**
 * The comment a view is created with on PostgreSQL: which definition it is. A view that
 * already carries it is left alone: replacing it takes an ACCESS EXCLUSIVE lock, so every
 * start waited behind an analyst's open transaction that had read it, and held up every other
 * reader of it meanwhile.
 */
export const viewMarker = (sql: string): string => `${MARKER_PREFIX}${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`
const MARKER_PREFIX = 'pagerduty-collector view '
/** A view a collector created and commented (any version's definition). */
const isMarked = (comment: string | null | undefined): boolean => typeof comment === 'string' && comment.startsWith(MARKER_PREFIX)

/** How long replacing an older view may wait for its readers; then it is left for the next start. */
const VIEW_LOCK_TIMEOUT = '5s'

/**
 * Creates what is missing, and nothing else: a login that only holds SELECT and INSERT on
 * tables a DBA created (with `collector migrate` or from `migrate --print`, or Snowplow's
 * DDL) must be able to load, and PostgreSQL checks the privilege to create before it sees
 * that an `IF NOT EXISTS` object exists. The view is replaced when the login owns it and it
 * is not this collector's definition already (a newer collector's), left alone when another
 * login owns it. Returns warnings: a view that could
 * not be created over older tables.
 */
export async function migrate(sql: postgres.Sql, dialect: Dialect, schema: string, options: MigrateOptions = {}): Promise<string[]> {
  const warnings: string[] = []
  const transform = options.transform ?? ((text: string) => text)
  const files = ddlFor(dialect, schema)
  const views = files.filter((f) => f.view)
  /** A view of a `marked` file's name that no collector made: left as it is. */
  const foreign = (now: Existing, f: DdlFile): boolean => {
    const found = now.relations.get(f.view as string)
    return dialect === 'postgres' && f.marked === true && found !== undefined && !isMarked(found.comment)
  }
  /**
   * A collector's view of an older definition that this login does not own, so cannot
   * replace: left as it is, but said, since queries written for this version's view (its
   * columns) fail on it and nothing else would tell the operator why.
   */
  const staleViews = (now: Existing): DdlFile[] => dialect !== 'postgres' ? [] : views.filter((f) => {
    const found = now.relations.get(f.view as string)
    return found !== undefined && !found.owned && isMarked(found.comment) && found.comment !== viewMarker(transform(f.sql))
  })
  const todo = (now: Existing) => ({
    tables: files.filter((f) => f.table && !now.relations.has(f.table)),
    views: views.filter((f) => {
      const found = now.relations.get(f.view as string)
      return !found || (found.owned && !foreign(now, f) && (dialect !== 'postgres' || found.comment !== viewMarker(transform(f.sql))))
    }),
  })
  const atStart = await existing(sql, schema, dialect)
  warnings.push(...staleViews(atStart).map((f) => `view from ${f.name} not replaced: ${schema}.${f.view} is an older collector's definition, owned by another login; run \`collector migrate\` as its owner to get this version's`))
  const before = todo(atStart)
  // Steps that are neither a table nor a view (storage settings) check for themselves, each time.
  const steps = files.filter((f) => !f.table && !f.view)
  if (before.tables.length === 0 && before.views.length === 0 && steps.length === 0) return warnings

  const viewName = (file: DdlFile) => `${quoteIdent(schema)}.${quoteIdent(file.view as string)}`
  /** Creates one view and reads it once (a late-binding view is checked only when queried). */
  async function createView(tx: postgres.Sql | postgres.TransactionSql, file: DdlFile): Promise<void> {
    await tx.unsafe(transform(file.sql)).simple()
    // Redshift checks a late-binding view only when it is queried: a table deployed from
    // Snowplow's DDL lacks a column the view reads, and every query on the view would fail.
    await tx.unsafe(`select * from ${viewName(file)} where 1 = 0`)
    if (dialect === 'postgres') await tx.unsafe(`comment on view ${viewName(file)} is ${quoteLiteral(viewMarker(transform(file.sql)))}`)
  }
  const viewFailed = (file: DdlFile, error: unknown) => {
    const code = (error as { code?: unknown }).code
    const why = code === '42703' ? ' (an older table lacks a column the view reads)'
      : code === '42P01' ? ' (a table or view it reads is missing: pagerduty_incidents reads pagerduty_incident_events)'
      : code === '42501' ? ' (this login may not create it: run `collector migrate` as the schema\'s owner, or apply `collector migrate --print`)'
      : code === '55P03' ? ` (its readers held it for ${VIEW_LOCK_TIMEOUT}: an open transaction that read it; the next start tries again)`
      : ''
    warnings.push(`view from ${file.name} not created: ${errorMessage(error)}${why}`)
  }
  /** A view's grants (analysts' SELECT), to give again to the view created in its place. */
  const grantsOf = async (sp: postgres.TransactionSql, name: string) => resultRows(await sp.unsafe(
    `select case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end as grantee, a.privilege_type, a.is_grantable
       from pg_class c, aclexplode(c.relacl) a where c.oid = $1::regclass and a.grantee <> c.relowner`,
    [name],
  ))
  const grantAgain = async (sp: postgres.TransactionSql, name: string, grants: postgres.Row[]) => {
    for (const g of grants) await sp.unsafe(`grant ${String(g.privilege_type)} on ${name} to ${String(g.grantee)}${g.is_grantable ? ' with grant option' : ''}`)
  }
  /**
   * This collector's views that read `file`'s view (pagerduty_incidents reads
   * pagerduty_incident_events), owned by this login: dropped before it and created again after
   * it. Another view that reads it (a user's own) is not, so the drop fails and says so.
   */
  const ourDependents = async (sp: postgres.TransactionSql, file: DdlFile): Promise<DdlFile[]> => {
    const rows = await sp.unsafe(
      `select distinct d.relname, obj_description(d.oid, 'pg_class') as comment from pg_depend p join pg_rewrite r on r.oid = p.objid join pg_class d on d.oid = r.ev_class
        where p.classid = 'pg_rewrite'::regclass and p.refobjid = $1::regclass and d.oid <> $1::regclass
          and d.relnamespace = (select relnamespace from pg_class where oid = $1::regclass) and pg_get_userbyid(d.relowner) = current_user`,
      [viewName(file)],
    )
    // Only a view a collector made: an analyst's view that bears the name keeps the drop from happening.
    const names = new Set(resultRows(rows).filter((r) => isMarked(r.comment as string | null)).map((r) => String(r.relname)))
    return views.filter((v) => v !== file && names.has(v.view as string))
  }
  /**
   * PostgreSQL, in the migration's transaction: the view in a savepoint of its own, so a failure
   * costs only the view. An older collector's view whose columns changed type or order cannot
   * be replaced in place ("cannot change data type of view column"): it is dropped and created
   * anew, with this collector's views that read it (a view of the user's own that depends on
   * it keeps it, with a warning).
   */
  async function createViewIn(tx: postgres.TransactionSql, file: DdlFile, found: boolean): Promise<void> {
    const attempt = (dropFirst: boolean) => tx.savepoint(async (sp) => {
      await sp.unsafe(`set local lock_timeout = '${VIEW_LOCK_TIMEOUT}'`)
      if (!dropFirst) return createView(sp, file)
      const dependents = await ourDependents(sp, file)
      const saved: postgres.Row[][] = []
      for (const d of dependents) {
        saved.push(await grantsOf(sp, viewName(d)))
        await sp.unsafe(`drop view ${viewName(d)}`)
      }
      const grants = await grantsOf(sp, viewName(file))
      await sp.unsafe(`drop view ${viewName(file)}`)
      await createView(sp, file)
      await grantAgain(sp, viewName(file), grants)
      for (const [i, d] of dependents.entries()) {
        await createView(sp, d)
        await grantAgain(sp, viewName(d), saved[i] as postgres.Row[])
      }
    })
    try {
      await attempt(false)
    } catch (error) {
      const cannotReplace = found && columnsChanged(error)
      if (!cannotReplace) return viewFailed(file, error)
      await attempt(true).catch((again: unknown) => viewFailed(file, again))
    }
  }

  /**
   * Redshift replaces a view only by one with the very same columns (r_CREATE_VIEW.html, OR
   * REPLACE), where PostgreSQL lets a newer definition add columns at the end: an older
   * collector's view (created_at was added to both views) is dropped and created in one
   * transaction. Late-binding, it has no dependents to keep the drop from happening, but its
   * grants go with it: said, for those that no default privileges give back.
   */
  async function createAnew(rs: postgres.Sql, file: DdlFile): Promise<void> {
    try {
      await rs.begin(async (tx) => {
        await tx.unsafe(`drop view ${viewName(file)}`)
        await createView(tx, file)
      })
      warnings.push(`view from ${file.name} created anew: ${viewName(file)} had other columns (an older collector's), and Redshift replaces a view in place only with the same columns; grants on it that no ALTER DEFAULT PRIVILEGES gives back must be given again`)
    } catch (error) {
      viewFailed(file, error)
    }
  }

  // READ COMMITTED whatever the database's or login's default_transaction_isolation: under
  // repeatable read or serializable the snapshot is the lock statement's, taken before the
  // lock is granted, so an instance that waited for another's migration did not see its
  // tables and columns, and failed ("column "request" of relation "bad_rows" already exists").
  // Redshift runs every transaction serializable and has no advisory locks (see below).
  const begin = dialect === 'postgres' ? 'isolation level read committed' : ''
  try {
    await sql.begin(begin, async (tx) => {
      // Several instances may start at once: one migrates, the others wait for it and then
      // find the tables there. Redshift has no advisory locks; there a concurrent CREATE
      // fails serialisation and is retried.
      if (dialect === 'postgres') await tx.unsafe('select pg_advisory_xact_lock(7242011)')
      const found = await existing(tx, schema, dialect)
      const now = todo(found)
      for (const file of views) {
        // Builds between the one that added the incidents view and the one that marked printed
        // views printed it uncommented: such a view is the collector's, and only a drop tells it so.
        if (foreign(found, file)) warnings.push(`view from ${file.name} not created: ${viewName(file)} exists and is not this collector's (no "${MARKER_PREFIX.trim()}" comment): left as it is; rename it to get the collector's view, or, if it was applied from an older \`collector migrate --print\`, drop it (drop view ${viewName(file)}) and the next start, or \`collector migrate\` as the schema's owner, creates the collector's`)
      }
      if (!found.schema) await tx.unsafe(`create schema if not exists ${quoteIdent(schema)}`)
      for (const file of now.tables) await tx.unsafe(transform(file.sql)).simple()
      // Steps that are neither a table nor a view (storage settings): they check for themselves
      // which tables they may change.
      for (const file of steps) await tx.unsafe(transform(file.sql)).simple()
      // PostgreSQL: the view in the same locked transaction, in a savepoint of its own, so
      // instances starting together do not race on it and a failure costs only the view.
      if (dialect === 'postgres') {
        for (const file of now.views) await createViewIn(tx, file, found.relations.has(file.view as string))
      }
    })
  } catch (error) {
    throw new CollectorError('MIGRATION_FAILED', `cannot create the tables in schema ${schema}: ${errorMessage(error)}`, (error as { name?: string }).name !== 'PostgresError', { cause: error })
  }
  // Redshift has no savepoints: its views after the tables' transaction.
  if (dialect === 'redshift') {
    for (const file of todo(await existing(sql, schema, dialect)).views) {
      await createView(sql, file).catch((error: unknown) => (columnsChanged(error) ? createAnew(sql, file) : viewFailed(file, error)))
    }
  }
  return warnings
}

/** CREATE OR REPLACE VIEW refused: the view's columns differ from the older definition's. */
const columnsChanged = (error: unknown): boolean => /cannot (change|drop columns from) .*view/i.test(errorMessage(error))
