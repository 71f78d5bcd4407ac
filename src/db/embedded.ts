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
import { lockDataDir, PRIVATE_DIR_MODE } from '../data-dir-lock.ts'
import { CollectorError, errorMessage } from '../errors.ts'
import { loadLibc } from '../libc.ts'
import { closeFilesInside } from './left-open.ts'
import type { FromEmbeddedThread, ToEmbeddedThread } from './embedded-worker.ts'

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
  /**
   * Ends PGlite's thread as a crash would (its clients' connections closed at once, a
   * statement in flight never finishing) and opens DATA_DIR/pglite again on the same socket
   * or port, through PostgreSQL's crash recovery: for a PGlite that no longer answers. Rejects
   * if the thread does not end or the open fails (then nothing serves the database), or when a
   * stop gives the open up.
   */
  restart(): Promise<void>
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

export interface EmbeddedOptions {
  dataDir: string
  port?: number
  /**
   * PGlite's PostgreSQL met a PANIC (a WAL file it could not write on a full disk): that
   * PGlite answers nothing more (the statement that met it never completes, the next ones
   * may spin in the WebAssembly), and only a new process opens the directory again.
   */
  onPanic?: (reason: string) => void
  /**
   * PGlite gave a statement an answer without its end (src/db/protocol-queue.ts): it answers
   * nothing more, and nothing more is sent to it. Its thread is idle, so `restart` can end it.
   */
  onWedged?: () => void
  /** The thread's module (tests give a stand-in); default: embedded-worker.ts. */
  workerEntry?: string
  /**
   * Aborted (a stop asked for) while it opens: the open is given up at once, its thread
   * terminated, and the promise rejects with the signal's reason. Nothing the collector
   * acknowledged depends on it (that is in the spool), and an open can hang for good.
   */
  signal?: AbortSignal
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  // Two PGlite instances on one directory corrupt it: `collector migrate` or `spool replay`
  // next to a running collector must stop here (DATA_DIR_IN_USE), not open it.
  const lock = lockDataDir(options.dataDir)
  // An open given up while its thread still runs: DATA_DIR stays locked until it has ended.
  const threadEnds: { ended: Promise<void> | null } = { ended: null }
  try {
    return await openEmbedded(options, lock.release, threadEnds)
  } catch (error) {
    if (threadEnds.ended) void threadEnds.ended.then(lock.release)
    else lock.release()
    throw error
  }
}

/**
 * The worker's entry: next to this module, or in the compiled binary (where every module's
 * import.meta.url is the executable's, in /$bunfs/root/) at its path under src/, the entry
 * points' common directory, as scripts/build.sh passes it to `bun build --compile`.
 */
const WORKER_ENTRY = import.meta.url.includes('/$bunfs/')
  ? new URL('./db/embedded-worker.ts', import.meta.url).href
  : new URL('./embedded-worker.ts', import.meta.url).href

/** One PGlite thread, serving on the socket or port it was given. */
interface Thread {
  /** The TCP port it listens on; null on the Unix socket. */
  port: number | null
  /** Asks the thread to close PGlite and its server, bounded; then ends it. */
  stop(): Promise<void>
  /**
   * Ends it as a crash would (terminate): its clients' connections are closed at once. True
   * once it has ended; false if it has not within `waitMs` (WebAssembly that never yields
   * back to JavaScript cannot be interrupted).
   */
  kill(waitMs: number): Promise<boolean>
}

/**
 * Starts PGlite on its own thread on `dataDir` and serves it on `socketFile` or `port`.
 * Rejects if it cannot (the thread terminated then); `threadEnds.ended` is set when it was
 * given up by `signal` while its thread still ran.
 */
async function startThread(options: EmbeddedOptions, dataDir: string, socketFile: string | null, port: number, threadEnds: { ended: Promise<void> | null }): Promise<Thread> {
  // PGlite on its own thread (embedded-worker.ts): its synchronous start (2-5 s creating the
  // cluster) and each statement's work no longer hold the event loop that accepts webhooks.
  const worker = new Worker(options.workerEntry ?? WORKER_ENTRY)
  let onMessage: (message: FromEmbeddedThread) => void = () => {}
  let onFailure: (reason: string) => void = () => {}
  worker.onmessage = (event: MessageEvent<FromEmbeddedThread>) => onMessage(event.data)
  // The thread itself died (WebAssembly aborted outside a statement PGlite catches): the
  // database answers nothing more, as after a PANIC.
  worker.onerror = (event: ErrorEvent) => onFailure(event.message || 'the embedded database\'s thread failed')
  // Or it ended without an error (a `process.exit` in it gives only this event): the same,
  // else a start would wait for good, or the writer retry for good while /ready says ready.
  let exited = false
  let threadEnded: () => void = () => {}
  const ended = new Promise<void>((resolve) => { threadEnded = resolve })
  worker.addEventListener('close', (event) => {
    exited = true
    threadEnded()
    onFailure(`the embedded database's thread exited (code ${String((event as Event & { code?: unknown }).code ?? 'unknown')})`)
  })
  const send = (message: ToEmbeddedThread) => worker.postMessage(message)
  let started: { port: number | null }
  let abandon: () => void = () => {}
  try {
    started = await new Promise<{ port: number | null }>((resolve, reject) => {
      // A stop while PGlite opens (creating a cluster takes seconds; a hung disk, for good):
      // waiting for it kept a SIGTERM waiting until systemd's SIGKILL at TimeoutStopSec.
      abandon = () => reject(options.signal?.reason)
      if (options.signal?.aborted) abandon()
      options.signal?.addEventListener('abort', abandon, { once: true })
      onFailure = (reason) => reject(new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot open the embedded database in ${dataDir}: ${reason}`, false))
      onMessage = (message) => {
        if (message.type === 'started') resolve(message)
        else if (message.type === 'failed' && message.stage === 'open') {
          const why = message.said.length > 0 ? ` (${message.said.join('; ')})` : ''
          reject(new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot open the embedded database in ${dataDir}: ${message.message}${why}`, false))
        } else if (message.type === 'failed') {
          reject(new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot serve the embedded database on ${socketFile ?? `127.0.0.1:${port}`}: ${message.message}`, false))
        }
      }
      send({ type: 'start', dataDir, socketFile, port, maxConnections: MAX_CONNECTIONS, stopWaitMs: STOP_WAIT_MS })
    })
    // Connecting to a Unix socket takes write permission on it: the owner's alone.
    if (socketFile !== null) fs.chmodSync(socketFile, 0o600)
  } catch (error) {
    // terminate() ends the thread when it next runs JavaScript; one blocked in a system call
    // (a disk that hangs) runs on until the call returns, or the process exits.
    worker.terminate()
    if (options.signal?.aborted && !exited) threadEnds.ended = ended
    throw error
  } finally {
    options.signal?.removeEventListener('abort', abandon)
  }
  let panicked = false
  const panic = (reason: string) => {
    if (panicked) return
    panicked = true
    options.onPanic?.(reason)
  }
  onFailure = panic
  let stopped: (() => void) | null = null
  onMessage = (message) => {
    if (message.type === 'panic') panic(message.reason)
    else if (message.type === 'wedged') options.onWedged?.()
    else if (message.type === 'stopped') stopped?.()
  }
  return {
    port: started.port,
    async stop() {
      try {
        // The thread bounds each of its two closes by STOP_WAIT_MS; this bounds the thread.
        onFailure = () => stopped?.()
        // A thread already gone answers nothing: nothing to wait for.
        if (!exited) await Promise.race([new Promise<void>((resolve) => { stopped = resolve; send({ type: 'stop' }) }), Bun.sleep(2 * STOP_WAIT_MS + 1000)])
      } finally {
        worker.terminate()
      }
    },
    async kill(waitMs) {
      // Its end is asked for, not a failure to report.
      onFailure = () => {}
      onMessage = () => {}
      worker.terminate()
      await Promise.race([ended, Bun.sleep(waitMs)])
      return exited
    },
  }
}

async function openEmbedded(options: EmbeddedOptions, release: () => void, threadEnds: { ended: Promise<void> | null }): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir, 'pglite')
  const sync = findSync()
  fs.mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE })
  let socket: PrivateSocket | null = null
  try {
    socket = options.port === undefined ? privateSocket(options.dataDir) : null
  } catch (error) {
    throw new CollectorError('EMBEDDED_DATABASE_FAILED', `cannot make the embedded database's socket: ${errorMessage(error)}`, false, { cause: error })
  }
  let thread: Thread
  try {
    thread = await startThread(options, dataDir, socket?.file ?? null, options.port ?? 0, threadEnds)
  } catch (error) {
    socket?.remove()
    throw error
  }
  // Restarted on the port it took (with --embedded-pg-port 0, one the kernel chose), so the
  // writer and psql users find it at the same address.
  const port = thread.port
  /** A restart in progress, and how a stop gives up its open. */
  let restarting: { done: Promise<void>; giveUp: AbortController } | null = null
  // A restart's open given up while its thread still runs: DATA_DIR stays locked until it ends.
  const reopenEnds: { ended: Promise<void> | null } = { ended: null }
  return {
    url: port === null ? 'postgres://postgres@localhost/postgres' : `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    socketPath: socket?.file ?? null,
    dataDir,
    flush: () => syncFileSystemOf(dataDir, sync),
    restart() {
      if (restarting) return restarting.done
      const giveUp = new AbortController()
      const done = (async () => {
        if (!await thread.kill(STOP_WAIT_MS)) {
          throw new CollectorError('EMBEDDED_DATABASE_FAILED', `the embedded database's thread did not end within ${STOP_WAIT_MS / 1000} s of being terminated (busy in WebAssembly that never yields): it cannot be opened again in this process`, false)
        }
        // Its files stay open after it (descriptors are the process's): ~45 more each restart.
        closeFilesInside(dataDir)
        // The old server's socket file, if its thread left one: the new server binds the same path.
        if (socket) fs.rmSync(socket.file, { force: true })
        thread = await startThread({ ...options, signal: giveUp.signal }, dataDir, socket?.file ?? null, port ?? 0, reopenEnds)
      })().finally(() => { restarting = null })
      restarting = { done, giveUp }
      return done
    },
    async stop() {
      try {
        if (restarting) {
          // A stop during a restart gives up its open, as a stop during the first open does.
          const { done, giveUp } = restarting
          giveUp.abort(new Error('stopped while the embedded database was being restarted'))
          await done.catch(() => {})
        }
        await thread.stop()
      } finally {
        socket?.remove()
        if (reopenEnds.ended) void reopenEnds.ended.then(release)
        else release()
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
