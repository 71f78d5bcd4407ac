/**
 * The embedded default database: PGlite (PostgreSQL compiled to WebAssembly) in
 * DATA_DIR/pglite, served over the PostgreSQL wire protocol on 127.0.0.1 so the same
 * postgres.js writer talks to it, and so `psql` can read the tables (--embedded-pg-port).
 */
import path from 'node:path'
import fs from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { lockDataDir } from '../data-dir-lock.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { loadPgliteAssets } from './pglite-assets.ts'
import { keepProtocolSequencesWhole } from './protocol-queue.ts'

export interface EmbeddedDatabase {
  url: string
  port: number
  dataDir: string
  /**
   * Makes what PGlite committed durable. PGlite runs with fsync off and writes through
   * Emscripten's file system, which never calls fsync: a commit is in the page cache only,
   * safe from a process crash but not from a power loss. This flushes the file system that
   * holds its files (syncfs(2), through `sync -f`, in a child process so the event loop
   * does not wait on the disk).
   */
  flush(): Promise<void>
  stop(): Promise<void>
}

/** The longest a stop waits for the socket server, then for PGlite, to close. */
const STOP_WAIT_MS = 5000

async function syncFileSystemOf(dir: string): Promise<void> {
  const proc = Bun.spawn(['sync', '-f', dir], { stdout: 'ignore', stderr: 'pipe' })
  const code = await proc.exited
  if (code !== 0) throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot flush the embedded database to disk (sync -f ${dir}: exit ${code}): ${(await new Response(proc.stderr).text()).trim()}`, true)
}

export async function startEmbedded(options: { dataDir: string; port?: number }): Promise<EmbeddedDatabase> {
  // Two PGlite instances on one directory corrupt it: `collector migrate` or `spool replay`
  // next to a running collector must stop here (DATA_DIR_IN_USE), not open it.
  const lock = lockDataDir(options.dataDir)
  try {
    return await openEmbedded(options, lock.release)
  } catch (error) {
    lock.release()
    throw error
  }
}

async function openEmbedded(options: { dataDir: string; port?: number }, release: () => void): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir, 'pglite')
  fs.mkdirSync(dataDir, { recursive: true })
  let db: PGlite
  try {
    db = await PGlite.create({ dataDir, ...(await loadPgliteAssets()) })
  } catch (error) {
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot open the embedded database in ${dataDir}: ${errorMessage(error)}`, false, { cause: error })
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0, maxConnections: 16 })
  keepProtocolSequencesWhole(server)
  try {
    await server.start()
  } catch (error) {
    await db.close()
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot serve the embedded database on 127.0.0.1:${options.port ?? 0}: ${errorMessage(error)}`, false, { cause: error })
  }
  const port = Number(server.getServerConn().split(':').pop())
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    flush: () => syncFileSystemOf(dataDir),
    async stop() {
      try {
        // Bounded: the socket server's close waits for its clients (a psql session left
        // open), and a stop must not hang the collector's exit on one.
        await Promise.race([server.stop(), Bun.sleep(STOP_WAIT_MS)])
        await Promise.race([db.close(), Bun.sleep(STOP_WAIT_MS)])
      } finally {
        release()
      }
    },
  }
}
