/**
 * The few file operations the spool needs, with every result checked. Bun's
 * `appendFile(..., { flush: true })` issues no fsync and drops its result (oven-sh/bun
 * #36485), so we open our own descriptors and call fsync on them explicitly; the async
 * `fs.fsync` keeps the event loop free while the next group commit gathers.
 */
import fs from 'node:fs'
import path from 'node:path'

export const fsyncFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())))

export const ftruncateFd = (fd: number, length: number): Promise<void> =>
  new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve())))

/** Writes all of `buf` at `position`, looping over short writes. */
export function writeAllSync(fd: number, buf: Uint8Array, position: number): void {
  let done = 0
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done)
    if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' })
    done += n
  }
}

/**
 * The calls on the append path, as one injectable seam: tests wrap them to count fsyncs
 * (group commit) or to make a write or an fsync fail the way a bad disk does (EIO), which
 * no real file system in a test can be made to do on demand.
 */
export interface SpoolIo {
  write(fd: number, buf: Uint8Array, position: number): void
  fsync(fd: number): Promise<void>
  ftruncate(fd: number, length: number): Promise<void>
}

export const nodeSpoolIo: SpoolIo = { write: writeAllSync, fsync: fsyncFd, ftruncate: ftruncateFd }

/** The same, blocking: for start-up, before any request is taken. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Makes a directory entry (a new or renamed file) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Atomic replace: temp file, fsync, rename, fsync the directory. Every step is async: on
 * ext4 a rename over an existing file waits for the replaced file's data (auto_da_alloc) and
 * for the journal, which the spool's fsyncs keep busy; `renameSync` showed ~10 ms per
 * checkpoint in the writer's profile, blocking every request meanwhile.
 */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.tmp`
  const handle = await fs.promises.open(tmp, 'w')
  try {
    const buf = Buffer.from(data)
    let done = 0
    while (done < buf.length) {
      const { bytesWritten } = await handle.write(buf, done, buf.length - done, done)
      if (bytesWritten <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' })
      done += bytesWritten
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.promises.rename(tmp, file)
  await fsyncDir(path.dirname(file))
}

/** `writeFileAtomic`, blocking: for start-up, before any request is taken. */
export function writeFileAtomicSync(file: string, data: string): void {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  try {
    writeAllSync(fd, Buffer.from(data), 0)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, file)
  fsyncDirSync(path.dirname(file))
}

/**
 * Whether the file open at `fd` has lost its last name (deleted while open): what is written
 * to it then is gone once it is closed. ~3 us (an fstat), against the fsync's milliseconds.
 */
export function isUnlinked(fd: number): boolean {
  try {
    return fs.fstatSync(fd).nlink === 0
  } catch {
    return false
  }
}

/** Reads up to `length` bytes at `position`; fewer at end of file. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done === length ? buf : buf.subarray(0, done)
}
