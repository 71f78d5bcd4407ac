/** sql/redshift: the same tables as sql/postgres, in Redshift's terms, printed for a DBA. */
import path from 'node:path'
import { describe, expect, test } from 'bun:test'
import { ddlFor } from '../../src/db/migrate.ts'
import { FORBIDDEN } from '../helpers/redshift-shim.ts'
import { BUN, ROOT } from '../helpers/collector.ts'

const redshift = ddlFor('redshift', 'atomic')
const postgres = ddlFor('postgres', 'atomic')

/** Column names of a CREATE TABLE, in order. */
function columns(sql: string): string[] {
  const body = sql.replace(/--[^\n]*/g, '').match(/CREATE TABLE[^(]*\(([\s\S]*)\)\s*(DISTSTYLE|;)/)?.[1] ?? ''
  return body.split(/,\s*\n/).map((l) => l.trim()).filter((l) => l && !/^CONSTRAINT\b/i.test(l)).map((l) => (l.match(/^("[^"]+"|\S+)/)?.[1] ?? '').replaceAll('"', ''))
}

describe('the Redshift DDL', () => {
  test('has a file for each PostgreSQL table and view file, in the same order', () => {
    // 10_json_compression.sql is PostgreSQL's TOAST setting; Redshift has ENCODE per column.
    // 11_bad_rows_request.sql adds a column to an older table: Redshift has no DO blocks.
    expect(redshift.map((f) => f.name)).toEqual(postgres.map((f) => f.name).filter((n) => n !== '10_json_compression.sql' && n !== '11_bad_rows_request.sql'))
  })

  test.each([
    ['01_events.sql', 'event_id', 'collector_tstamp'],
    ['02_com_pagerduty_incident_1.sql', 'root_id', 'root_tstamp'],
    ['03_com_pagerduty_webhook_v2_message_1.sql', 'root_id', 'root_tstamp'],
    ['04_com_pagerduty_webhook_v3_event_1.sql', 'root_id', 'root_tstamp'],
    ['09_bad_rows.sql', 'bad_row_id', 'received_at'],
  ])('%s distributes by %s and sorts by %s, with the same columns as PostgreSQL and an encoding on each', (name, distkey, sortkey) => {
    const sql = redshift.find((f) => f.name === name)?.sql ?? ''
    expect(sql).toContain(`DISTSTYLE KEY\nDISTKEY (${distkey})\nSORTKEY (${sortkey});`)
    expect(columns(sql)).toEqual(columns(postgres.find((f) => f.name === name)?.sql ?? ''))
    expect(columns(sql).length).toBe(({ '01_events.sql': 128, '02_com_pagerduty_incident_1.sql': 49, '03_com_pagerduty_webhook_v2_message_1.sql': 47, '04_com_pagerduty_webhook_v3_event_1.sql': 40, '09_bad_rows.sql': 8 } as Record<string, number>)[name] ?? 0)
    const lines = sql.split('\n').filter((l) => /^ {2}("|[a-z])/.test(l) && !/SUPER/.test(l))
    expect(lines.filter((l) => !/ ENCODE (ZSTD|RAW|RUNLENGTH)\b/.test(l))).toEqual([])
  })

  const SHREDDED = ['02_com_pagerduty_incident_1.sql', '03_com_pagerduty_webhook_v2_message_1.sql', '04_com_pagerduty_webhook_v3_event_1.sql']

  test.each(SHREDDED)('%s encodes the schema and ref columns RUNLENGTH, the keys RAW, and its JSON columns as SUPER', (name) => {
    const sql = redshift.find((f) => f.name === name)?.sql ?? ''
    const encoding = (column: string): string => sql.match(new RegExp(`^  ${column} \\S+ ENCODE (\\w+)`, 'm'))?.[1] ?? 'none'
    expect(['schema_vendor', 'schema_name', 'schema_format', 'schema_version', 'ref_root', 'ref_tree', 'ref_parent', 'root_id', 'root_tstamp'].map(encoding))
      .toEqual(['RUNLENGTH', 'RUNLENGTH', 'RUNLENGTH', 'RUNLENGTH', 'RUNLENGTH', 'RUNLENGTH', 'RUNLENGTH', 'RAW', 'RAW'])
    const pg = postgres.find((f) => f.name === name)?.sql ?? ''
    const jsonColumns = (text: string, type: string): string[] => [...text.matchAll(new RegExp(`^  ("[^"]+"|\\w+) ${type}\\b`, 'gm'))].map((m) => m[1] as string)
    expect(jsonColumns(sql, 'SUPER')).toEqual(jsonColumns(pg, 'jsonb'))
  })

  test('the view reads every version\'s table, late-binding, without DISTINCT ON', () => {
    const sql = (redshift.find((f) => f.name === '20_pagerduty_incident_events.sql')?.sql ?? '').replace(/--[^\n]*/g, '')
    expect([...sql.matchAll(/\b(?:FROM|JOIN) "atomic"\.(\w+)/g)].map((m) => m[1])).toEqual([
      'events', 'com_pagerduty_incident_1', 'events', 'com_pagerduty_webhook_v2_message_1', 'events', 'com_pagerduty_webhook_v3_event_1', 'com_pagerduty_webhook_v3_event_1',
    ])
    expect(sql.trim().endsWith('WITH NO SCHEMA BINDING;')).toBe(true)
    expect(sql).not.toMatch(/DISTINCT\s+ON/i)
  })

  test('the incidents view is PostgreSQL\'s query, late-binding', () => {
    // One query for both dialects, so the two can never give different rows; only the binding differs.
    const sql = (dialect: typeof redshift) => (dialect.find((f) => f.name === '21_pagerduty_incidents.sql')?.sql ?? '').trim()
    const rs = sql(redshift)
    expect(rs.endsWith('\nWITH NO SCHEMA BINDING;')).toBe(true)
    expect(rs.replace(/\nWITH NO SCHEMA BINDING;$/, ';')).toBe(sql(postgres))
    expect(rs).toContain('FROM "atomic".pagerduty_incident_events ev')
  })

  test('uses none of the constructs Redshift lacks', () => {
    const found = redshift.flatMap((f) => FORBIDDEN.filter((x) => x.pattern.test(f.sql.replace(/--[^\n]*/g, ''))).map((x) => `${f.name}: ${x.name}`))
    expect(found).toEqual([])
  })

  test('`collector migrate --print` prints it for the redshift dialect, in the configured schema', async () => {
    const proc = Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), 'migrate', '--print'], {
      env: { PATH: process.env.PATH ?? '', DB_DIALECT: 'redshift', DB_SCHEMA: 'analytics' },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [out, code] = [await new Response(proc.stdout).text(), await proc.exited]
    expect(code).toBe(0)
    expect(out.startsWith('CREATE SCHEMA IF NOT EXISTS "analytics";\n')).toBe(true)
    expect([...out.matchAll(/^-- (\d\d_\w+\.sql)$/gm)].map((m) => m[1])).toEqual(redshift.map((f) => f.name))
    expect(out).toContain('CREATE TABLE IF NOT EXISTS "analytics".events (')
    expect(out).toContain('raw_message SUPER NOT NULL')
    expect(out).toContain('WITH NO SCHEMA BINDING;')
    expect(out).not.toContain('atomic.')
  })
})
