/** The collector's one database client (src/db/connect.ts) against real servers. */
import { expect, test } from 'bun:test'
import path from 'node:path'
import postgres from 'postgres'
import { connect, databaseName, ipv6Host } from '../../src/db/connect.ts'
import { CLUSTER_BIN, createCluster } from '../helpers/cluster.ts'
import { freshDatabase, hasServer, tempDir } from '../helpers/database.ts'

test('an IPv6 address in DATABASE_URL goes to postgres.js as host and port, which it would split on ":"', () => {
  expect(ipv6Host('postgres://u:p@[::1]:5433/d?sslmode=require')).toEqual({ host: ['::1'], port: [5433] })
  expect(ipv6Host('postgres://u@[fd00::5]/d')).toEqual({ host: ['fd00::5'], port: [5432] })
  expect(ipv6Host('postgres://u@db.example.com:5433/d')).toEqual({})
})

test('the database in DATABASE_URL is percent-decoded, as libpq does', () => {
  expect(databaseName('postgres://u@h:5432/my%20db')).toEqual({ database: 'my db' })
  expect(databaseName('postgres://u@h/b\u00fccher')).toEqual({ database: 'b\u00fccher' }) // URL encodes it: b%C3%BCcher
  expect(databaseName('postgres://u@h/warehouse?sslmode=require')).toEqual({ database: 'warehouse' })
  expect(databaseName('postgres://u@h:5432')).toEqual({})
  expect(databaseName('postgres://u@h/100%')).toEqual({ database: '100%' }) // not an escape: as written
})

test.skipIf(!hasServer())('a database whose name has a space and a non-ASCII letter is reached through DATABASE_URL', async () => {
  const db = await freshDatabase('connect_name')
  const name = new URL(db.url).pathname.slice(1)
  const odd = `${name} \u00e9`
  const admin = postgres(process.env.TEST_DATABASE_URL as string, { max: 1, onnotice: () => {} })
  await admin.unsafe(`alter database "${name}" rename to "${odd}"`)
  try {
    const url = new URL(db.url)
    url.pathname = `/${encodeURIComponent(odd)}`
    const sql = connect({ url: url.href, dialect: 'postgres', max: 1 })
    try {
      // Was: database "..._%20%C3%A9" does not exist.
      expect((await sql`select current_database() as name`)[0]?.name).toBe(odd)
    } finally {
      await sql.end({ timeout: 1 })
    }
  } finally {
    await admin.unsafe(`alter database "${odd}" rename to "${name}"`)
    await admin.end({ timeout: 1 })
    await db.drop()
  }
})

test.skipIf(!CLUSTER_BIN)('a server on an IPv6 address is reached through DATABASE_URL', async () => {
  const cluster = createCluster('ipv6', { listen: '::1' })
  const sql = connect({ url: cluster.url, dialect: 'postgres', max: 1 })
  try {
    expect(cluster.url).toStartWith('postgres://postgres@[::1]:')
    expect((await sql`select inet_server_addr()::text as addr`)[0]?.addr).toBe('::1/128')
  } finally {
    await sql.end({ timeout: 1 })
    cluster.destroy()
  }
}, 60_000)

test.skipIf(!CLUSTER_BIN)('sslmode=require against a server without TLS says so, not only that the socket closed', async () => {
  const cluster = createCluster('no-tls')
  try {
    const run = Bun.spawnSync([process.execPath, path.join(import.meta.dir, '..', '..', 'src', 'main.ts'), 'migrate'], {
      env: { ...process.env, DATABASE_URL: `${cluster.url}?sslmode=require`, DATA_DIR: tempDir('no-tls') }, stdout: 'pipe', stderr: 'pipe',
    })
    expect(run.exitCode).toBe(1)
    expect(run.stderr.toString()).toContain('(does the server support SSL? sslmode=require and verify-* need it; the server closed the connection during the handshake)')
  } finally {
    cluster.destroy()
  }
}, 60_000)
