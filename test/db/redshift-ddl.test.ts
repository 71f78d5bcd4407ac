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
  test('has a file for each PostgreSQL file, in the same order', () => {
    expect(redshift.map((f) => f.name)).toEqual(postgres.map((f) => f.name))
  })

  test.each([
    ['01_events.sql', 'event_id', 'collector_tstamp'],
    ['02_com_pagerduty_incident_1.sql', 'root_id', 'root_tstamp'],
    ['09_bad_rows.sql', 'bad_row_id', 'received_at'],
  ])('%s distributes by %s and sorts by %s, with the same columns as PostgreSQL and an encoding on each', (name, distkey, sortkey) => {
    const sql = redshift.find((f) => f.name === name)?.sql ?? ''
    expect(sql).toContain(`DISTSTYLE KEY\nDISTKEY (${distkey})\nSORTKEY (${sortkey});`)
    expect(columns(sql)).toEqual(columns(postgres.find((f) => f.name === name)?.sql ?? ''))
    expect(columns(sql).length).toBe(({ '01_events.sql': 128, '02_com_pagerduty_incident_1.sql': 49, '09_bad_rows.sql': 7 } as Record<string, number>)[name] ?? 0)
    const lines = sql.split('\n').filter((l) => /^ {2}("|[a-z])/.test(l) && !/SUPER/.test(l))
    expect(lines.filter((l) => !/ ENCODE (ZSTD|RAW|RUNLENGTH)\b/.test(l))).toEqual([])
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
