/** The collector's one database client (src/db/connect.ts) against real servers. */
import { expect, test } from 'bun:test'
import path from 'node:path'
import { connect, ipv6Host } from '../../src/db/connect.ts'
import { CLUSTER_BIN, createCluster } from '../helpers/cluster.ts'
import { tempDir } from '../helpers/database.ts'

test('an IPv6 address in DATABASE_URL goes to postgres.js as host and port, which it would split on ":"', () => {
  expect(ipv6Host('postgres://u:p@[::1]:5433/d?sslmode=require')).toEqual({ host: ['::1'], port: [5433] })
  expect(ipv6Host('postgres://u@[fd00::5]/d')).toEqual({ host: ['fd00::5'], port: [5432] })
  expect(ipv6Host('postgres://u@db.example.com:5433/d')).toEqual({})
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
