import { describe, expect, test } from 'bun:test'
import { defaultDialect, loadConfig } from '../src/config.ts'
import { writeTimeoutFor } from '../src/app.ts'

const issuesOf = (env: Record<string, string>, argv: string[] = []) => {
  const r = loadConfig(env, argv)
  return r.ok ? [] : r.issues
}

describe('loadConfig', () => {
  test('defaults match DESIGN.md', () => {
    const r = loadConfig({}, [])
    expect(r.ok && r.command).toEqual({ name: 'serve' })
    expect(r.ok && r.config).toEqual({
      port: 8080, host: '0.0.0.0', dataDir: './data', dbSchema: 'atomic', dialect: 'postgres',
      webhookSecrets: [], signedOnly: false, basicAuthUsers: [], batchMaxRows: 1000, batchMaxWaitMs: 20, batchMaxBytes: 256 * 1024,
      spoolMaxBytes: 10 * 1024 ** 3, spoolSegmentBytes: 64 * 1024 ** 2, maxBodyBytes: 1024 ** 2,
      shutdownDrainMs: 5000, dbWriteTimeoutMs: 60_000, embeddedStallRestartMs: 300_000, logLevel: 'info',
    })
  })

  test('a flag wins over its environment variable', () => {
    const r = loadConfig({ PORT: '9000', DB_SCHEMA: 'env_schema' }, ['--port', '9100', '--db-schema=flag_schema'])
    expect(r.ok && [r.config.port, r.config.dbSchema]).toEqual([9100, 'flag_schema'])
  })

  test('environment variables fill every setting', () => {
    const r = loadConfig({
      DATABASE_URL: 'postgres://u@h/db', PAGERDUTY_WEBHOOK_SECRETS: 'a, b', PAGERDUTY_SIGNED_ONLY: 'true', BASIC_AUTH_USERS: 'pd:s3cr:et',
      BATCH_MAX_ROWS: '10', BATCH_MAX_WAIT_MS: '0', BATCH_MAX_BYTES: '512KiB', SPOOL_MAX_BYTES: '2GiB', MAX_BODY_BYTES: '512KiB', LOG_LEVEL: 'debug',
    }, [])
    expect(r.ok && r.config).toMatchObject({
      databaseUrl: 'postgres://u@h/db', webhookSecrets: ['a', 'b'], signedOnly: true, basicAuthUsers: [{ user: 'pd', password: 's3cr:et' }],
      batchMaxRows: 10, batchMaxWaitMs: 0, batchMaxBytes: 512 * 1024, spoolMaxBytes: 2 * 1024 ** 3, maxBodyBytes: 512 * 1024, logLevel: 'debug',
    })
  })

  test('bad values give one issue per problem, each naming the flag or variable', () => {
    expect(issuesOf({ PORT: 'eighty', DB_DIALECT: 'mysql', MAX_BODY_BYTES: 'lots' }, ['--batch-max-rows', '0', '--nope', 'x'])).toEqual([
      { option: '--nope', message: 'unknown flag (try --help)' },
      { option: 'command', message: 'unknown command "x" (try --help)' },
      { option: 'PORT', message: 'must be an integer, got "eighty"' },
      { option: 'MAX_BODY_BYTES', message: 'must be a byte count like 1048576 or 10GiB, got "lots"' },
      { option: 'DB_DIALECT', message: 'must be postgres or redshift' },
      { option: '--batch-max-rows', message: 'must be an integer from 1 to 100000, got 0' },
    ])
  })

  test('a number out of its range is refused with both bounds and the value given, sizes in binary units', () => {
    expect(issuesOf({ BATCH_MAX_WAIT_MS: '60001', SHUTDOWN_DRAIN_MS: '-1', BATCH_MAX_BYTES: '10', MAX_BODY_BYTES: '100MiB', SPOOL_SEGMENT_BYTES: '1000', SPOOL_MAX_BYTES: '0' }, [])).toEqual([
      { option: 'BATCH_MAX_WAIT_MS', message: 'must be an integer from 0 to 60000, got 60001' },
      { option: 'BATCH_MAX_BYTES', message: 'must be a size from 1KiB to 1GiB, got 10B' },
      { option: 'SPOOL_MAX_BYTES', message: 'must be at least 1KiB, got 0B' },
      { option: 'SPOOL_SEGMENT_BYTES', message: 'must be a size from 1KiB to 2GiB, got 1000B' },
      { option: 'MAX_BODY_BYTES', message: 'must be a size from 1B to 64MiB, got 100MiB' },
      { option: 'SHUTDOWN_DRAIN_MS', message: 'must be an integer from 0 to 600000, got -1' },
    ])
  })

  test('a secrets or users list of only commas and spaces is refused, not read as unset (which turns the check off); an empty value is unset', () => {
    expect(issuesOf({ PAGERDUTY_WEBHOOK_SECRETS: ' , ', BASIC_AUTH_USERS: ',' }, [])).toEqual([
      { option: 'PAGERDUTY_WEBHOOK_SECRETS', message: 'holds no secrets, only commas and spaces: set at least one, or unset it' },
      { option: 'BASIC_AUTH_USERS', message: 'holds no user:password pairs, only commas and spaces: set at least one, or unset it' },
    ])
    const r = loadConfig({ PAGERDUTY_WEBHOOK_SECRETS: '', BASIC_AUTH_USERS: '' }, [])
    expect(r.ok && [r.config.webhookSecrets, r.config.basicAuthUsers]).toEqual([[], []])
    const s = loadConfig({ PAGERDUTY_WEBHOOK_SECRETS: 'a,,b, ' }, [])
    expect(s.ok && s.config.webhookSecrets).toEqual(['a', 'b'])
  })

  test.each([
    [{ PORT: '70000' }, [], { option: 'PORT', message: 'must be a port number from 0 to 65535, got 70000' }],
    [{ DB_SCHEMA: 'bad-name' }, [], { option: 'DB_SCHEMA', message: 'must be a plain SQL identifier (letters, digits, underscore; not starting with a digit; at most 63 characters)' }],
    // PostgreSQL's identifiers are 63 bytes: a longer schema name would be cut, and never found again.
    [{ DB_SCHEMA: 'a'.repeat(64) }, [], { option: 'DB_SCHEMA', message: 'must be a plain SQL identifier (letters, digits, underscore; not starting with a digit; at most 63 characters)' }],
    [{ DATABASE_URL: 'mysql://x' }, [], { option: 'DATABASE_URL', message: 'must be a postgres:// or postgresql:// URL' }],
    [{ LOG_LEVEL: 'loud' }, [], { option: 'LOG_LEVEL', message: 'must be debug, info, warn or error' }],
    [{}, ['--port'], { option: '--port', message: 'needs a value' }],
    [{ BASIC_AUTH_USERS: 'nopassword' }, [], { option: 'BASIC_AUTH_USERS', message: 'must be comma-separated user:password pairs' }],
    [{ PAGERDUTY_SIGNED_ONLY: 'true' }, [], { option: 'PAGERDUTY_SIGNED_ONLY', message: 'needs PAGERDUTY_WEBHOOK_SECRETS: without a secret no signature can be checked, and every webhook would get 401' }],
    [{ PAGERDUTY_SIGNED_ONLY: 'sure', PAGERDUTY_WEBHOOK_SECRETS: 's' }, [], { option: 'PAGERDUTY_SIGNED_ONLY', message: 'must be true or false, got "sure"' }],
    [{ SPOOL_MAX_BYTES: '4MiB' }, [], { option: 'SPOOL_MAX_BYTES', message: 'SPOOL_MAX_BYTES (4194304) must be at least 8 x MAX_BODY_BYTES (1048576) + 32KiB, 8421376: a rejected body is kept in the spool as a bad row, JSON-escaped (up to 6x its size) beside its query string and headers, and one that could never fit would get 503 for good; raise SPOOL_MAX_BYTES or lower MAX_BODY_BYTES (PagerDuty\'s webhooks are a few KiB)' }],
    [{ SPOOL_MAX_BYTES: '64MiB' }, ['--max-body-bytes', '16MiB'], { option: 'SPOOL_MAX_BYTES', message: 'SPOOL_MAX_BYTES (67108864) must be at least 8 x MAX_BODY_BYTES (16777216) + 32KiB, 134250496: a rejected body is kept in the spool as a bad row, JSON-escaped (up to 6x its size) beside its query string and headers, and one that could never fit would get 503 for good; raise SPOOL_MAX_BYTES or lower MAX_BODY_BYTES (PagerDuty\'s webhooks are a few KiB)' }],
    [{ DATABASE_URL: 'postgres://h/db' }, ['--embedded-pg-port', '5433'], { option: '--embedded-pg-port', message: 'only applies to the embedded database; unset DATABASE_URL or drop it' }],
    // libpq's forms postgres.js does not take: they passed the start and failed at every write.
    ...([
      ['postgres:///warehouse?host=/var/run/postgresql', 'a host or port in the query string (libpq style)'],
      ['postgres://collector@%2Fvar%2Frun%2Fpostgresql/warehouse', 'a Unix socket (a socket directory as the host)'],
      ['postgres:///warehouse', 'a URL without a host (a Unix socket)'],
      ['postgresql://u:p@h1:5432,h2:5432/warehouse', 'a list of hosts'],
      ['postgres://u@db/warehouse?port=5433', 'a host or port in the query string (libpq style)'],
    ] as const).map(([url, form]) => [{ DATABASE_URL: url }, [], { option: 'DATABASE_URL', message: `${form} is not supported: give one server over TCP in the URL, postgres://user:password@127.0.0.1:5432/db (on the same host, 127.0.0.1 and a host line in pg_hba.conf)` }] as const),
  ] as const)('%p %p is refused', (env, argv, issue) => {
    expect(issuesOf({ ...env }, [...argv])).toEqual([issue])
  })

  test.each([
    [['migrate'], { name: 'migrate', print: false }],
    [['migrate', '--print'], { name: 'migrate', print: true }],
    [['spool', 'status'], { name: 'spool-status' }],
    [['spool', 'replay', 'x.ndjson'], { name: 'spool-replay', file: 'x.ndjson', query: {} }],
    [['spool', 'replay', 'x.ndjson', 'aid=acme&p=web&x=1'], { name: 'spool-replay', file: 'x.ndjson', query: { aid: 'acme', p: 'web' } }],
    [['bad-rows', 'retry'], { name: 'bad-rows-retry', reasons: [], query: {} }],
    [['bad-rows', 'retry', 'UNKNOWN_EVENT_TYPE', 'aid=acme&x=1', 'INVALID_EVENT'], { name: 'bad-rows-retry', reasons: ['UNKNOWN_EVENT_TYPE', 'INVALID_EVENT'], query: { aid: 'acme' } }],
    // The webhook URL itself, pasted where its query string goes (its path was read as a key).
    [['spool', 'replay', 'x.ndjson', 'https://u:p@collector.example/com.pagerduty/v1?aid=acme&p=srv'], { name: 'spool-replay', file: 'x.ndjson', query: { aid: 'acme', p: 'srv' } }],
    [['spool', 'replay', 'x.ndjson', '?aid=acme'], { name: 'spool-replay', file: 'x.ndjson', query: { aid: 'acme' } }],
    [['bad-rows', 'retry', 'https://collector.example/com.pagerduty/v3?aid=acme'], { name: 'bad-rows-retry', reasons: [], query: { aid: 'acme' } }],
    [['--help'], { name: 'help' }],
    [['serve', '--version'], { name: 'version' }],
  ])('argv %p is the command %p', (argv, command) => {
    const r = loadConfig({}, argv)
    expect(r.ok && r.command).toEqual(command as never)
  })

  test.each([
    [['spool', 'replay', 'x.ndjson', 'aaid=acme'], 'aaid=acme'],
    [['bad-rows', 'retry', 'UNKNOWN_EVENT_TYPE', 'app_id=acme'], 'app_id=acme'],
  ])('argv %p is refused: a QUERY that sets none of aid, p, cv, nuid would load every event without them, for good', (argv, text) => {
    expect(issuesOf({}, argv)).toEqual([{ option: 'QUERY', message: `sets none of aid, p, cv, nuid, got ${JSON.stringify(text)}: give the webhook URL's query string, such as aid=acme&p=srv` }])
  })

  test.each([[['--print']], [['serve', '--print']], [['spool', 'status', '--print']]])('argv %p is refused: --print only applies to migrate, it does not start a server', (argv) => {
    expect(issuesOf({}, argv)).toEqual([{ option: '--print', message: 'only applies to migrate (collector migrate --print)' }])
  })

  test('Redshift hosts choose the redshift dialect unless one is given', () => {
    expect(defaultDialect('postgres://u@c1.abc.us-east-1.redshift.amazonaws.com:5439/dev')).toBe('redshift')
    expect(defaultDialect('postgres://u@db.internal/dev')).toBe('postgres')
    const r = loadConfig({ DATABASE_URL: 'postgres://u@c1.abc.us-east-1.redshift.amazonaws.com:5439/dev', DB_DIALECT: 'postgres' }, [])
    expect(r.ok && r.config.dialect).toBe('postgres')
  })

  test('on Redshift, which folds identifiers to lower case, DB_SCHEMA is lower-cased; PostgreSQL keeps its case', () => {
    const rs = loadConfig({ DATABASE_URL: 'postgres://u@c1.abc.us-east-1.redshift.amazonaws.com:5439/dev', DB_SCHEMA: 'PagerDuty_Atomic' }, [])
    const pg = loadConfig({ DATABASE_URL: 'postgres://u@db.internal/dev', DB_SCHEMA: 'PagerDuty_Atomic' }, [])
    expect([rs.ok && rs.config.dbSchema, pg.ok && pg.config.dbSchema]).toEqual(['pagerduty_atomic', 'PagerDuty_Atomic'])
  })
})

describe('EMBEDDED_STALL_RESTART_MS', () => {
  test('is milliseconds: 0 (never) or at least a second', () => {
    expect(issuesOf({ EMBEDDED_STALL_RESTART_MS: '300' })).toEqual([{ option: 'EMBEDDED_STALL_RESTART_MS', message: 'is in milliseconds: 0 (never) or at least 1000, got 300' }])
    expect(issuesOf({ EMBEDDED_STALL_RESTART_MS: '0' })).toEqual([])
    expect(issuesOf({}, ['--embedded-stall-restart-ms', '3000'])).toEqual([])
    const r = loadConfig({}, ['--embedded-stall-restart-ms=3000'])
    expect(r.ok && r.config.embeddedStallRestartMs).toBe(3000)
  })
})

describe('DB_WRITE_TIMEOUT_MS', () => {
  test('is milliseconds: 0 or at least a second, so that 60 meant as seconds is refused', () => {
    expect(issuesOf({ DB_WRITE_TIMEOUT_MS: '60' })).toEqual([{ option: 'DB_WRITE_TIMEOUT_MS', message: 'is in milliseconds: 0 (never) or at least 1000, got 60' }])
    expect(issuesOf({ DB_WRITE_TIMEOUT_MS: '0' })).toEqual([])
    expect(issuesOf({ DB_WRITE_TIMEOUT_MS: '1000' })).toEqual([])
  })

  test('applies to PostgreSQL over the network only: not to the embedded database, not to Redshift', () => {
    const of = (env: Record<string, string>) => { const r = loadConfig({ DB_WRITE_TIMEOUT_MS: '5000', ...env }, []); return r.ok ? writeTimeoutFor(r.config) : null }
    expect(of({ DATABASE_URL: 'postgres://u@db.example.com/d' })).toBe(5000)
    expect(of({})).toBe(0)
    expect(of({ DATABASE_URL: 'postgres://u@x.abc.eu-west-1.redshift.amazonaws.com:5439/d' })).toBe(0)
  })
})
