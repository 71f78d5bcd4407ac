/**
 * A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free loopback port, which a test may
 * stop with `-m immediate` (a crash: no shutdown checkpoint, connections cut) and start again.
 * PostgreSQL refuses to run as root, so when we are root the cluster belongs to `postgres`.
 * With `tls`, it takes TCP connections over TLS only, with a certificate for the name
 * `localhost` (not for the address 127.0.0.1) signed by a CA of its own (`caFile`), as a
 * managed database has one for its host name.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function findBin(): string | null {
  const base = '/usr/lib/postgresql'
  if (!fs.existsSync(base)) return null
  for (const version of fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))) {
    const bin = path.join(base, version, 'bin')
    if (fs.existsSync(path.join(bin, 'initdb'))) return bin
  }
  return null
}

export const CLUSTER_BIN = findBin()

export interface Cluster {
  url: string
  port: number
  /** With `tls`: the CA certificate the server's certificate chains to. */
  caFile: string | null
  start(): void
  stop(mode: 'fast' | 'immediate'): void
  destroy(): void
}

const freePort = (): number => {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}

function run(args: string[], asPostgres: boolean): string {
  const argv = asPostgres ? ['runuser', '-u', 'postgres', '--', ...args] : args
  const result = Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' })
  if (result.exitCode !== 0) throw new Error(`${args.join(' ')} failed (${result.exitCode}): ${result.stderr.toString()}${result.stdout.toString()}`)
  return result.stdout.toString()
}

/** A CA and a server certificate it signs for localhost, in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const file = (name: string) => path.join(dir, name)
  const openssl = (...args: string[]) => run(['openssl', ...args], false)
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=collector test CA')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost')
  fs.writeFileSync(file('san.cnf'), 'subjectAltName=DNS:localhost\n')
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.crt'), '-days', '2', '-extfile', file('san.cnf'))
  return { ca: file('ca.pem'), cert: file('server.crt'), key: file('server.key') }
}

export function createCluster(label: string, { tls = false, listen = '127.0.0.1' }: { tls?: boolean; listen?: '127.0.0.1' | '::1' } = {}): Cluster {
  if (!CLUSTER_BIN) throw new Error('initdb not found under /usr/lib/postgresql/*/bin')
  const bin = CLUSTER_BIN
  const root = process.getuid?.() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pdc-cluster-${label}-`))
  const data = path.join(dir, 'data')
  if (root) Bun.spawnSync(['chown', 'postgres:postgres', dir])
  run([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], root)
  let caFile: string | null = null
  let tlsOptions = ''
  if (tls) {
    const made = makeCertificates(dir)
    caFile = made.ca
    for (const [from, to] of [[made.cert, 'server.crt'], [made.key, 'server.key']] as const) fs.copyFileSync(from, path.join(data, to))
    fs.chmodSync(path.join(data, 'server.key'), 0o600)
    if (root) Bun.spawnSync(['chown', 'postgres:postgres', path.join(data, 'server.crt'), path.join(data, 'server.key')])
    // TCP over TLS only: a client that does not ask for it is refused.
    fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n')
    tlsOptions = ' -c ssl=on'
  }
  const port = freePort()
  // fsync off: the database's own durability is not under test here, and the machine is shared.
  const options = `-p ${port} -k ${dir} -c listen_addresses=${listen} -c fsync=off -c shared_buffers=16MB -c max_connections=20${tlsOptions}`
  const cluster: Cluster = {
    url: `postgres://postgres@${listen.includes(':') ? `[${listen}]` : listen}:${port}/postgres`,
    port,
    caFile,
    start() { run([path.join(bin, 'pg_ctl'), '-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', '-t', '30', 'start'], root) },
    stop(mode) { run([path.join(bin, 'pg_ctl'), '-D', data, '-m', mode, '-w', 'stop'], root) },
    destroy() {
      try { cluster.stop('immediate') } catch { /* already stopped */ }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  cluster.start()
  return cluster
}
