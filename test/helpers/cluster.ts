/**
 * A throwaway PostgreSQL cluster (initdb + pg_ctl) on a free loopback port, which a test may
 * stop with `-m immediate` (a crash: no shutdown checkpoint, connections cut) and start again.
 * PostgreSQL refuses to run as root, so when we are root the cluster belongs to `postgres`.
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

export interface Cluster { url: string; port: number; start(): void; stop(mode: 'fast' | 'immediate'): void; destroy(): void }

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

export function createCluster(label: string): Cluster {
  if (!CLUSTER_BIN) throw new Error('initdb not found under /usr/lib/postgresql/*/bin')
  const bin = CLUSTER_BIN
  const root = process.getuid?.() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pdc-cluster-${label}-`))
  const data = path.join(dir, 'data')
  if (root) Bun.spawnSync(['chown', 'postgres:postgres', dir])
  run([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], root)
  const port = freePort()
  // fsync off: the database's own durability is not under test here, and the machine is shared.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=20`
  const cluster: Cluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
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
