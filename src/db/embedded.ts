/**
 * The embedded default database: PGlite (PostgreSQL compiled to WebAssembly) in
 * DATA_DIR/pglite, served over the PostgreSQL wire protocol so the same postgres.js writer
 * talks to it. The server has no authentication (any client is the superuser), so by default
 * it listens on a Unix socket in DATA_DIR/socket that only the collector's user can open;
 * with a port (--embedded-pg-port) it listens on 127.0.0.1:port instead, where `psql` from
 * any local account can read the tables.
 */
import path from 'node:path'
import fs from 'node:fs'
import os from 'node:os'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { lockDataDir, PRIVATE_DIR_MODE } from '../data-dir-lock.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { loadLibc } from '../libc.ts'
import { loadPgliteAssets } from './pglite-assets.ts'
import { keepProtocolSequencesWhole, refuseConnectionsBeyond } from './protocol-queue.ts'

export interface EmbeddedDatabase {
  url: string
  /** The TCP port on 127.0.0.1, when asked for one; null: the Unix socket only. */
  port: number | null
  /** The Unix socket file (postgres.js's `path` option); null when on TCP. */
  socketPath: string | null
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

/** Connections the embedded database serves at once, the writer's included (README). */
const MAX_CONNECTIONS = 16

/** The longest a stop waits for the socket server, then for PGlite, to close. */
const STOP_WAIT_MS = 5000

/**
 * coreutils' `sync`, wherever it is: on PATH, or where Debian and others put it, for a
 * service started with a bare PATH. Null where there is none (a minimal container image).
 */
function findSync(): string | null {
  return Bun.which('sync') ?? ['/usr/bin/sync', '/bin/sync'].find((file) => fs.existsSync(file)) ?? null
}

/** syncfs(2) on this thread (the event loop waits for the disk): the fallback without `sync`. */
function syncfsHere(dir: string): void {
  const libc = loadLibc()
  if (!libc?.syncfs) throw new Error('syncfs(2) is not available here (bun:ffi could not load it from the C library)')
  const fd = fs.openSync(dir, 'r')
  try {
    if (libc.syncfs(fd) !== 0) throw new Error(`syncfs failed (errno ${libc.errno()})`)
  } finally {
    fs.closeSync(fd)
  }
}

export async function syncFileSystemOf(dir: string, sync: string | null): Promise<void> {
  if (sync === null) {
    try {
      syncfsHere(dir)
      return
    } catch (error) {
      throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot flush the embedded database to disk: no sync program, and syncfs(2) failed: ${errorMessage(error)}`, true)
    }
  }
  let proc: Bun.Subprocess<'ignore', 'ignore', 'pipe'>
  try {
    proc = Bun.spawn([sync, '-f', dir], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' })
  } catch (error) {
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot flush the embedded database to disk (${sync}: ${errorMessage(error)})`, true)
  }
  const code = await proc.exited
  if (code !== 0) throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot flush the embedded database to disk (${sync} -f ${dir}: exit ${code}): ${(await new Response(proc.stderr).text()).trim()}`, true)
}

/**
 * Emscripten's file system errors, as PGlite throws them (creating its files on a full disk):
 * no Error, no message, only Emscripten's own errno number, which read as "[object Object]".
 */
const EMSCRIPTEN_ERRNO: Record<number, string> = {
  2: 'EACCES: permission denied', 19: 'EDQUOT: disk quota exceeded', 22: 'EFBIG: file too large', 29: 'EIO: input/output error',
  44: 'ENOENT: no such file or directory', 51: 'ENOSPC: no space left on device', 63: 'EPERM: operation not permitted', 69: 'EROFS: read-only file system',
}

function pgliteErrorMessage(error: unknown): string {
  const errno = (error as { errno?: unknown } | null)?.errno
  if (error instanceof Error || typeof errno !== 'number') return errorMessage(error)
  return EMSCRIPTEN_ERRNO[errno] ?? `file system error (Emscripten errno ${errno})`
}

export interface EmbeddedOptions {
  dataDir: string
  port?: number
  /**
   * PGlite's PostgreSQL met a PANIC (a WAL file it could not write on a full disk): that
   * PGlite answers nothing more (the statement that met it never completes, the next ones
   * may spin in the WebAssembly), and only a new process opens the directory again.
   */
  onPanic?: (reason: string) => void
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
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

async function openEmbedded(options: EmbeddedOptions, release: () => void): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir, 'pglite')
  const sync = findSync()
  fs.mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE })
  let socket: PrivateSocket | null = null
  try {
    socket = options.port === undefined ? privateSocket(options.dataDir) : null
  } catch (error) {
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot make the embedded database's socket: ${errorMessage(error)}`, false, { cause: error })
  }
  // PGlite's own error when its PostgreSQL cannot start says only "PGlite failed to initialize
  // properly" or "Aborted()"; the reason (a full disk, a damaged file) is what that PostgreSQL
  // printed on its stderr, which PGlite shows only in debug mode.
  const said: string[] = []
  let opened = false
  let panicked = false
  const onStderr = (line: string): boolean => {
    if (!opened) {
      const reason = /\b(?:PANIC|FATAL):\s+(.*)$/.exec(line)?.[1]
      if (reason !== undefined) said.splice(0, said.length - 1, reason)
      return false
    }
    // Running, the log quotes clients (an ERROR's message with their value, a WARNING they
    // raised, a statement's later lines): only a line whose own level is PANIC, right after
    // PostgreSQL's prefix (%m [%p]), is one; a psql user's `select 'PANIC: x'::int` is not.
    const reason = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] PANIC:\s+(.*)$/.exec(line)?.[1]
    if (reason !== undefined && !panicked) {
      panicked = true
      options.onPanic?.(reason)
    }
    return false
  }
  let db: PGlite
  try {
    db = await PGlite.create({ dataDir, onStderr, ...(await loadPgliteAssets()) })
  } catch (error) {
    socket?.remove()
    const why = said.length > 0 ? ` (${said.join('; ')})` : ''
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot open the embedded database in ${dataDir}: ${pgliteErrorMessage(error)}${why}`, false, { cause: error })
  }
  opened = true
  const server = socket
    ? new PGLiteSocketServer({ db, path: socket.file })
    : new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0 })
  keepProtocolSequencesWhole(server)
  refuseConnectionsBeyond(server, MAX_CONNECTIONS)
  try {
    await server.start()
    // Connecting to a Unix socket takes write permission on it: the owner's alone.
    if (socket) fs.chmodSync(socket.file, 0o600)
  } catch (error) {
    await Promise.race([server.stop(), Bun.sleep(STOP_WAIT_MS)])
    await db.close()
    socket?.remove()
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot serve the embedded database on ${socket ? socket.file : `127.0.0.1:${options.port ?? 0}`}: ${errorMessage(error)}`, false, { cause: error })
  }
  const port = socket ? null : Number(server.getServerConn().split(':').pop())
  return {
    url: port === null ? 'postgres://postgres@localhost/postgres' : `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    socketPath: socket?.file ?? null,
    dataDir,
    flush: () => syncFileSystemOf(dataDir, sync),
    async stop() {
      try {
        // Bounded: the socket server's close waits for its clients (a psql session left
        // open), and a stop must not hang the collector's exit on one.
        await Promise.race([server.stop(), Bun.sleep(STOP_WAIT_MS)])
        await Promise.race([db.close(), Bun.sleep(STOP_WAIT_MS)])
      } finally {
        socket?.remove()
        release()
      }
    },
  }
}

/** Unix socket paths are at most 107 bytes (sun_path); a longer DATA_DIR gets one under the temporary directory. */
const MAX_SOCKET_PATH = 107

interface PrivateSocket { file: string; remove(): void }

/**
 * Where the embedded database's Unix socket goes: DATA_DIR/socket/.s.PGSQL.5432 (the name
 * psql looks for: `psql -h DATA_DIR/socket -U postgres`), in a directory only this user owns
 * and may enter; removed at stop. One left by a crash is reused, its socket file removed: the
 * DATA_DIR lock says no one else serves it. A `socket` that is a symlink, not a directory, or
 * another user's (who could then swap the socket for a listener of their own) is refused.
 */
function privateSocket(dataDir: string): PrivateSocket {
  let dir = path.resolve(dataDir, 'socket')
  if (Buffer.byteLength(path.join(dir, '.s.PGSQL.5432')) > MAX_SOCKET_PATH) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pdc-pg-'))
  } else {
    const found = fs.lstatSync(dir, { throwIfNoEntry: false })
    if (found && (!found.isDirectory() || found.uid !== process.getuid?.())) {
      throw new Error(`${dir} exists and is not a directory of this user's (uid ${process.getuid?.()}): remove it`)
    }
    if (!found) fs.mkdirSync(dir, { mode: 0o700 })
  }
  fs.chmodSync(dir, 0o700)
  const file = path.join(dir, '.s.PGSQL.5432')
  fs.rmSync(file, { force: true })
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}
