/**
 * The embedded database's thread: PGlite and its wire-protocol server, off the main thread.
 * PGlite's PostgreSQL runs synchronously in WebAssembly: creating the cluster at a first start
 * held the event loop 2-5 s in one piece, and each migration, checkpoint or large batch for
 * 100-300 ms more. On the main thread that was time the HTTP server could not accept and the
 * spool could not acknowledge; here it costs only a CPU. The main thread reaches it as before,
 * through the socket, and talks to this thread only to start it, stop it and hear of a PANIC
 * (src/db/embedded.ts).
 */
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import { errorMessage } from '../errors.ts'
import { loadPgliteAssets } from './pglite-assets.ts'
import { keepProtocolSequencesWhole, refuseConnectionsBeyond } from './protocol-queue.ts'

declare const self: Worker

/** What the main thread asks: start once, then stop. */
export type ToEmbeddedThread =
  | { type: 'start'; dataDir: string; socketFile: string | null; port: number; maxConnections: number; stopWaitMs: number }
  | { type: 'stop' }

/** What this thread answers. `failed` carries the main thread's message parts (see embedded.ts). */
export type FromEmbeddedThread =
  | { type: 'started'; port: number | null }
  | { type: 'failed'; stage: 'open' | 'serve'; message: string; said: string[] }
  | { type: 'panic'; reason: string }
  | { type: 'wedged' }
  | { type: 'stopped' }

/**
 * Emscripten's file system errors, as PGlite throws them (creating its files on a full disk):
 * no Error, no message, only Emscripten's own errno number, which read as "[object Object]".
 */
const EMSCRIPTEN_ERRNO: Record<number, string> = {
  2: 'EACCES: permission denied', 19: 'EDQUOT: disk quota exceeded', 22: 'EFBIG: file too large', 29: 'EIO: input/output error',
  44: 'ENOENT: no such file or directory', 51: 'ENOSPC: no space left on device', 63: 'EPERM: operation not permitted', 69: 'EROFS: read-only file system',
}

export function pgliteErrorMessage(error: unknown): string {
  const errno = (error as { errno?: unknown } | null)?.errno
  if (error instanceof Error || typeof errno !== 'number') return errorMessage(error)
  return EMSCRIPTEN_ERRNO[errno] ?? `file system error (Emscripten errno ${errno})`
}

const post = (message: FromEmbeddedThread) => self.postMessage(message)

let stop: (() => Promise<void>) | null = null

async function start(options: Extract<ToEmbeddedThread, { type: 'start' }>): Promise<void> {
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
      post({ type: 'panic', reason })
    }
    return false
  }
  let db: PGlite
  try {
    db = await PGlite.create({ dataDir: options.dataDir, onStderr, ...(await loadPgliteAssets()) })
  } catch (error) {
    post({ type: 'failed', stage: 'open', message: pgliteErrorMessage(error), said })
    return
  }
  opened = true
  const server = options.socketFile !== null
    ? new PGLiteSocketServer({ db, path: options.socketFile })
    : new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port })
  keepProtocolSequencesWhole(server, () => post({ type: 'wedged' }))
  refuseConnectionsBeyond(server, options.maxConnections)
  const bounded = (promise: Promise<unknown>) => Promise.race([promise, Bun.sleep(options.stopWaitMs)])
  try {
    await server.start()
  } catch (error) {
    await bounded(server.stop())
    await db.close()
    post({ type: 'failed', stage: 'serve', message: errorMessage(error), said: [] })
    return
  }
  // Bounded: the socket server's close waits for its clients (a psql session left open), and
  // a stop must not hang the collector's exit on one.
  stop = async () => {
    await bounded(server.stop())
    await bounded(db.close())
  }
  post({ type: 'started', port: options.socketFile !== null ? null : Number(server.getServerConn().split(':').pop()) })
}

self.onmessage = (event: MessageEvent<ToEmbeddedThread>) => {
  const message = event.data
  if (message.type === 'start') {
    start(message).catch((error) => post({ type: 'failed', stage: 'open', message: pgliteErrorMessage(error), said: [] }))
  } else {
    const stopping = stop ?? (async () => {})
    stop = null
    stopping().finally(() => post({ type: 'stopped' }))
  }
}
