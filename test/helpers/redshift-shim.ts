/**
 * Running the redshift dialect against PostgreSQL, without a cluster:
 *  - `shimDdl` strips the Redshift-only clauses from sql/redshift/*.sql (ENCODE, DISTSTYLE,
 *    DISTKEY, SORTKEY, late binding) and the informational keys Redshift never enforces, so
 *    a dedupe bug shows as a duplicate row here just as it would on Redshift;
 *  - `installShim` defines what Redshift has and PostgreSQL lacks in schema redshift_shim:
 *    SUPER (a domain over jsonb), JSON_PARSE (which, like Redshift's by default, refuses
 *    text over 65,535 bytes), JSON_SERIALIZE and JSON_EXTRACT_PATH_TEXT of a JSON text (the
 *    events view reads v2's resolve reason with them);
 *  - `statementLog` records every statement a connection sends (postgres.js `debug`) and
 *    names each construct Redshift lacks, so a test fails on the first one the dialect uses.
 */
import { afterAll, beforeAll } from 'bun:test'
import type postgres from 'postgres'
import { connect } from '../../src/db/connect.ts'
import { freshDatabase, type TestDatabase } from './database.ts'

export const SHIM_SCHEMA = 'redshift_shim'

export function shimDdl(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, '')
    .replace(/\s+ENCODE\s+\w+/gi, '')
    .replace(/\bDISTSTYLE\s+\w+/gi, '')
    .replace(/\b(DISTKEY|SORTKEY)\s*\([^)]*\)/gi, '')
    .replace(/\bWITH\s+NO\s+SCHEMA\s+BINDING\b/gi, '')
    .replace(/,\s*CONSTRAINT\s+\w+\s+PRIMARY\s+KEY\s*\([^)]*\)/gi, '')
    .replace(/,\s*FOREIGN\s+KEY\s*\([^)]*\)\s*REFERENCES\s+[\w."]+\s*\([^)]*\)/gi, '')
    .replace(/\bSUPER\b/g, `${SHIM_SCHEMA}.super`)
    // PostgreSQL 17 and later parse JSON_SERIALIZE(...) as their own SQL/JSON function, which
    // refuses jsonb: a qualified name is a plain function call, the shim's.
    .replace(/\bJSON_SERIALIZE\s*\(/gi, 'public.json_serialize(')
}

/** Creates the shim and puts it on the database's search path (also for this session). */
export async function installShim(sql: postgres.Sql): Promise<void> {
  const [{ db }] = (await sql.unsafe('select current_database() as db')) as unknown as [{ db: string }]
  await sql.unsafe(`
    create schema if not exists ${SHIM_SCHEMA};
    create domain ${SHIM_SCHEMA}.super as jsonb;
    -- Redshift: "a single string value loaded to SUPER is limited to the maximum VARCHAR
    -- length of 65535 bytes" (limitations-super.html); JSON_PARSE refuses longer input, and
    -- Redshift's executor reports it as XX000 with its own code 8001, not as 22001
    -- (awslabs/amazon-redshift-utils#716).
    -- In public, found with the default search_path: the embedded database's one session is
    -- shared, and its settings (a SET search_path) are reset whenever another connection
    -- takes it (src/db/protocol-queue.ts).
    create function public.json_parse(text) returns ${SHIM_SCHEMA}.super language plpgsql immutable as $$
    begin
      if octet_length($1) > 65535 then
        raise exception 'Value too long for character type' using errcode = 'XX000', detail = E'  error:  Value too long for character type\n  code:      8001\n';
      end if;
      return $1::jsonb;
    end $$;
    -- Redshift: SUPER to its JSON text (JSON_SERIALIZE.html); the value of a path in a JSON
    -- text, NULL where it has none, and NULL for text that is no JSON object when the third
    -- argument (null_if_invalid) is true (JSON_EXTRACT_PATH_TEXT.html).
    create function public.json_serialize(${SHIM_SCHEMA}.super) returns text language sql immutable as $$ select $1::text $$;
    create function public.json_extract_path_text(text, text, boolean) returns text language plpgsql immutable as $$
    begin
      if jsonb_typeof($1::jsonb) <> 'object' then
        if $3 then return null; end if;
        raise exception 'JSON parsing error' using errcode = 'XX000';
      end if;
      return $1::jsonb ->> $2;
    exception when invalid_text_representation then
      if $3 then return null; end if;
      raise;
    end $$;
    alter database "${db}" set search_path = "$user", public, ${SHIM_SCHEMA};
    set search_path = "$user", public, ${SHIM_SCHEMA};
  `).simple()
}

/** Constructs Redshift does not have, with where that is documented. */
export const FORBIDDEN: readonly { name: string; pattern: RegExp }[] = [
  { name: 'ON CONFLICT', pattern: /\bon\s+conflict\b/i },
  { name: 'RETURNING', pattern: /\breturning\b/i },
  { name: 'unnest', pattern: /\bunnest\s*\(/i },
  { name: 'ARRAY constructor', pattern: /\barray\s*[[(]/i },
  { name: 'array type', pattern: /\[\s*\]/ },
  { name: '= ANY(array)', pattern: /\bany\s*\(/i },
  { name: 'array_agg', pattern: /\barray_agg\b/i },
  { name: 'jsonb', pattern: /\bjsonb\b/i },
  { name: '::json cast', pattern: /::\s*json\b/i },
  { name: 'COPY', pattern: /^\s*copy\b/i },
  { name: 'VALUES as a table', pattern: /\(\s*values\b/i },
  { name: 'generate_series', pattern: /\bgenerate_series\b/i },
  { name: 'IS DISTINCT FROM', pattern: /\bis\s+(not\s+)?distinct\s+from\b/i },
  { name: 'DISTINCT ON', pattern: /\bdistinct\s+on\s*\(/i },
  { name: 'LATERAL', pattern: /\blateral\b/i },
  { name: 'advisory lock', pattern: /\bpg_advisory/i },
  // TRUNCATE commits the open transaction on Redshift: the batch would no longer be atomic.
  { name: 'TRUNCATE', pattern: /^\s*truncate\b/i },
  { name: 'ON COMMIT', pattern: /\bon\s+commit\b/i },
  { name: 'CREATE INDEX', pattern: /\bcreate\s+(unique\s+)?index\b/i },
  { name: 'sequence', pattern: /\b(nextval|serial|bigserial)\b/i },
  { name: 'pg_type.typarray (fetch_types)', pattern: /\btyparray\b/i },
  { name: 'data-modifying WITH', pattern: /\bwith\b[^;]*\b(insert|delete|update)\b/i },
]

export interface LoggedStatement { text: string; parameters: number; bytes: number }

export interface StatementLog {
  debug: (connection: number, text: string, parameters: unknown[], types: unknown[]) => void
  statements: LoggedStatement[]
  /** `name: statement` for every forbidden construct found. */
  violations(): string[]
}

/** Records statement text, parameter count and size (text plus values, in bytes). */
export function statementLog(): StatementLog {
  const statements: LoggedStatement[] = []
  return {
    statements,
    debug(_connection, text, parameters) {
      let bytes = Buffer.byteLength(text)
      for (const p of parameters) if (typeof p === 'string') bytes += Buffer.byteLength(p)
      statements.push({ text, parameters: parameters.length, bytes })
    },
    violations() {
      const out: string[] = []
      for (const s of statements) for (const f of FORBIDDEN) if (f.pattern.test(s.text)) out.push(`${f.name}: ${s.text.slice(0, 160)}`)
      return out
    },
  }
}

export interface ShimmedRedshift { readonly log: StatementLog; readonly db: TestDatabase; readonly rs: postgres.Sql }

/**
 * For a test file: a fresh database with the shim installed (`db`, for checking rows as
 * PostgreSQL sees them) and a redshift-dialect client on it (`rs`) whose every statement
 * lands in `log`; created before the file's tests, dropped after them.
 */
export function shimmedRedshift(label: string): ShimmedRedshift {
  const log = statementLog()
  let db: TestDatabase | undefined
  let rs: postgres.Sql | undefined
  beforeAll(async () => {
    db = await freshDatabase(label)
    await installShim(db.sql)
    rs = connect({ url: db.url, dialect: 'redshift', max: 1, overrides: { ssl: false, debug: log.debug } })
  }, 60_000)
  afterAll(async () => {
    await rs?.end({ timeout: 1 })
    await db?.drop()
  })
  return {
    log,
    get db() { if (!db) throw new Error('shimmedRedshift: used outside a test'); return db },
    get rs() { if (!rs) throw new Error('shimmedRedshift: used outside a test'); return rs },
  }
}
