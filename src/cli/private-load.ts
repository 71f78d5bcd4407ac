/**
 * One-off loads from the command line (`spool replay`, `bad-rows retry`): records go through
 * a private spool and the same writer into the configured database. The running collector
 * owns DATA_DIR/spool, so this spool is `DATA_DIR/<name>-PID`, removed at the end: what it
 * loads comes from a file or a table that stays, and loading it again is idempotent.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { endCommandOnPanic, openDatabase, type Database } from '../app.ts'
import { lockDataDir, type DataDirLock } from '../data-dir-lock.ts'
import type { Log } from '../log.ts'
import { migrate } from '../db/migrate.ts'
import { createLazySink } from '../sink/lazy.ts'
import { encodeRecord } from '../sink/records.ts'
import { createWriter, type WriterStatus } from '../sink/writer.ts'
import { openSpool, type Spool } from '../spool/spool.ts'
import type { BadRow, BuiltEvent } from '../events/event.ts'

export interface PrivateLoad {
  readonly database: Database
  /** Makes a record durable in the private spool; the writer loads it in the background. */
  append(events: BuiltEvent[], badRows: BadRow[]): Promise<void>
  /**
   * Waits until everything appended is loaded or the database is down, and stops the writer.
   * `left`: events not loaded; `loaded`: false while anything appended is not, bad rows
   * included, which `left` does not count (run the same load again; nothing loads twice).
   */
  finish(): Promise<{ left: number; loaded: boolean; status: WriterStatus }>
}

export async function withPrivateLoad<T>(config: Config, log: Log, name: string, whenDown: string, use: (load: PrivateLoad) => Promise<T>): Promise<T> {
  // The database first: the embedded one takes the DATA_DIR lock, and a load that is refused
  // (DATA_DIR_IN_USE) must leave nothing behind in DATA_DIR.
  const database = await openDatabase(config, endCommandOnPanic(log, config, whenDown))
  removeAbandonedSpools(config.dataDir)
  const dir = path.join(config.dataDir, `${name}-${process.pid}`)
  // Ctrl-C or SIGTERM ends a load at once (process.exit, src/main.ts), past the finally below:
  // the spool it held (up to SPOOL_MAX_BYTES, on the disk of the collector's own spool) stayed
  // in DATA_DIR for good. What it held comes from a file or a table that stays.
  const removeSpool = () => fs.rmSync(dir, { recursive: true, force: true })
  // Held while the load runs: to another load in a PID namespace of its own (a container
  // sharing DATA_DIR) this one's pid is gone, and only the lock tells it the spool is in use.
  // Refused (DATA_DIR_IN_USE), the spool is such a load's, of the same pid: left alone.
  let lock: DataDirLock | null = null
  let spool: Spool | null = null
  let writer: ReturnType<typeof createWriter> | null = null
  try {
    lock = lockDataDir(dir)
    process.once('exit', removeSpool)
    const opened = (spool = openSpool({ dir, maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes }))
    const sink = createLazySink({
      sql: database.sql, dialect: config.dialect, schema: config.dbSchema,
      migrate: async () => { await migrate(database.sql, config.dialect, config.dbSchema) },
    })
    // No write timeout: the load ends at the first database error, and a write that is only
    // slow (a lock held elsewhere) must load, not be reported NOT loaded.
    const started = (writer = createWriter({ spool: opened, sink, maxRows: config.batchMaxRows, maxBatchBytes: config.batchMaxBytes, maxWaitMs: 0, concurrency: config.dialect === 'redshift' ? 1 : 2, log, whenDown }))
    started.start()
    return await use({
      database,
      append: (events, badRows) => opened.append(encodeRecord({ events, badRows }), events.length),
      async finish() {
        while (opened.pending() && started.status().database !== 'down') await Bun.sleep(50)
        const left = opened.unreadEvents()
        // A record of bad rows alone (a rejected line) counts no event, and its spool goes next.
        const loaded = !opened.pending()
        await started.stop(0)
        // The embedded database never fsyncs on its own: what the summary calls loaded is on disk.
        await database.embedded?.flush()
        return { left, loaded, status: started.status() }
      },
    })
  } finally {
    // A load that ends without finish() (bad-rows retry with no rows to retry) stops the
    // writer too: left running, its first look at the database met the pool closed below and
    // logged "database unavailable" after a run that had succeeded.
    await writer?.stop(0)
    await spool?.close()
    if (lock) {
      process.off('exit', removeSpool)
      removeSpool()
      lock.release()
    }
    await database.sql.end({ timeout: 5 })
    await database.embedded?.stop()
  }
}

/** The private spools' directories in DATA_DIR: `<name>-PID`. */
const PRIVATE_SPOOL = /^(?:replay|bad-rows-retry)-(\d+)$/

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The private spools of loads killed with SIGKILL (or by the OOM killer), whose exit handler
 * never ran: each stayed in DATA_DIR for good, up to SPOOL_MAX_BYTES on the disk of the
 * collector's own spool. Only those whose process is gone: with DATABASE_URL, loads run
 * side by side, unlocked. What they held comes from a file or a table that stays. A pid not
 * running here may be a live load's in another PID namespace (a container sharing DATA_DIR):
 * its spool's lock, which the kernel drops however the load ends, says so.
 */
function removeAbandonedSpools(dataDir: string): void {
  for (const entry of fs.readdirSync(dataDir)) {
    const pid = Number(PRIVATE_SPOOL.exec(entry)?.[1] ?? 0)
    if (!(pid > 0) || pid === process.pid || running(pid)) continue
    const dir = path.join(dataDir, entry)
    let lock: DataDirLock
    try {
      lock = lockDataDir(dir)
    } catch {
      continue // in use (or not a directory)
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true })
    } finally {
      lock.release()
    }
  }
}

/** A bar on stderr when it is a terminal: `[#####.....] done/total`. */
export function progress(done: number, total: number): void {
  if (!process.stderr.isTTY) return
  const width = 30
  const filled = total === 0 ? width : Math.round((done / total) * width)
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`)
  if (done === total) process.stderr.write('\n')
}
