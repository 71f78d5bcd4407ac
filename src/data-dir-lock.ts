/**
 * One process at a time in a DATA_DIR. Two collectors on one spool would each append at
 * offsets only it knows, load and delete segments the other still writes, and fight over
 * the checkpoint: acknowledged webhooks could be lost. Two PGlite instances on one
 * DATA_DIR/pglite corrupt it. So `serve` (and a command that opens the embedded database)
 * takes an exclusive flock(2) on DATA_DIR/collector.lock first, as PostgreSQL guards its data
 * directory. The kernel drops the lock when the process ends, however it ends (SIGKILL and
 * crashes included), so there is never a stale lock to clean up; the file keeps the holder's
 * pid for the error message only.
 *
 * Node has no flock, so it is called through bun:ffi from the C library. Where that is not
 * possible (no such library, a file system without locks) the caller is told why and runs
 * unguarded, with a warning: refusing to start there would turn a safety net into an outage.
 */
import fs from 'node:fs'
import path from 'node:path'
import { CollectorError } from './errors.ts'
import { loadLibc } from './libc.ts'

/**
 * The mode of the directories the collector makes in DATA_DIR (and DATA_DIR itself when it
 * makes it). The spool holds webhooks as received (names, e-mails), and PGlite makes its
 * files 0666 whatever the umask: under a 0755 directory (`npm start` with umask 022) any
 * local account could read the spool and rewrite the database that only its owner may reach
 * through the socket. The unit's StateDirectoryMode=0700 does this for /var/lib/collector.
 */
export const PRIVATE_DIR_MODE = 0o700

const LOCK_EX = 2
const LOCK_NB = 4
const LOCK_UN = 8

export interface DataDirLock {
  /** False when the lock could not be taken for a reason other than another holder. */
  held: boolean
  /** Why it is not held (for a warning), when `held` is false. */
  reason?: string
  release(): void
}

// Held locks by directory, counted: `serve` holds DATA_DIR and so does the embedded database
// it opens, in the same process (a second flock on a second descriptor would refuse itself).
const held = new Map<string, { fd: number | null; count: number; reason?: string }>()

/**
 * Takes DATA_DIR for this process, or throws DATA_DIR_IN_USE naming the process that holds
 * it. Release it when done (it is released anyway when the process exits).
 */
export function lockDataDir(dataDir: string): DataDirLock {
  fs.mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE })
  const dir = fs.realpathSync(dataDir)
  let entry = held.get(dir)
  if (!entry) {
    entry = acquire(dir)
    held.set(dir, entry)
  }
  entry.count++
  const taken = entry
  let released = false
  return {
    held: taken.fd !== null,
    ...(taken.reason !== undefined ? { reason: taken.reason } : {}),
    release() {
      if (released) return
      released = true
      if (--taken.count > 0) return
      held.delete(dir)
      if (taken.fd === null) return
      loadLibc()?.flock(taken.fd, LOCK_UN)
      fs.closeSync(taken.fd)
    },
  }
}

function acquire(dir: string): { fd: number | null; count: number; reason?: string } {
  const file = path.join(dir, 'collector.lock')
  const lib = loadLibc()
  if (!lib) return { fd: null, count: 0, reason: `flock is not available on ${process.platform} here (bun:ffi could not load the C library)` }
  // Not truncated on open: until the lock is ours, the pid in it is the holder's.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600)
  if (lib.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = lib.errno()
    if (errno === lib.wouldBlock) {
      let holder = ''
      try { holder = fs.readFileSync(file, 'utf8').trim() } catch { /* the message does without it */ }
      fs.closeSync(fd)
      throw new CollectorError(
        'DATA_DIR_IN_USE',
        `DATA_DIR ${dir} is in use by another collector${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''}: one process per DATA_DIR (stop it, or give this one a DATA_DIR of its own)`,
        false,
      )
    }
    fs.closeSync(fd)
    return { fd: null, count: 0, reason: `flock on ${file} failed (errno ${errno}); DATA_DIR is not guarded against a second process` }
  }
  try {
    fs.ftruncateSync(fd, 0)
    fs.writeSync(fd, `${process.pid}\n`, 0)
  } catch {
    // The pid is for the message only; the lock itself is what guards.
  }
  return { fd, count: 0 }
}
