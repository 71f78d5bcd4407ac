/**
 * The files a terminated thread left open. A thread's file descriptors are the process's:
 * ending PGlite's thread (src/db/embedded.ts restart) closes its sockets but not the ~45
 * files its PostgreSQL had open (tables, indexes, WAL segments), and every restart added as
 * many for good, until the process ran out of descriptors (EMFILE for the spool too). A WAL
 * segment removed since stays on the disk while a descriptor holds it.
 */
import fs from 'node:fs'
import path from 'node:path'

/** Of the open files `links` (descriptor -> what /proc says it is), those inside `dir`. */
export function descriptorsInside(links: ReadonlyMap<number, string>, dir: string): number[] {
  const inside = `${path.resolve(dir)}${path.sep}`
  // A file removed while open reads `<path> (deleted)`, which starts with its path all the same.
  return [...links].filter(([, target]) => target.startsWith(inside)).map(([fd]) => fd)
}

/** This process's open files, from /proc/self/fd; empty where there is none (not Linux). */
function openFiles(): Map<number, string> {
  const links = new Map<number, string>()
  let fds: string[]
  try {
    fds = fs.readdirSync('/proc/self/fd')
  } catch {
    return links
  }
  for (const fd of fds) {
    try {
      links.set(Number(fd), fs.readlinkSync(`/proc/self/fd/${fd}`))
    } catch {
      // Closed since the listing (the listing's own descriptor among them).
    }
  }
  return links
}

/**
 * Closes every file this process has open inside `dir`; returns how many. Only for a
 * directory nothing running has open: the caller's thread that used it has ended, and no
 * other has started on it. Synchronous, so nothing else opens a file there meanwhile.
 */
export function closeFilesInside(dir: string): number {
  // /proc names a file by its real path: a DATA_DIR under a symlink is found there.
  let real = dir
  try {
    real = fs.realpathSync(dir)
  } catch {
    // Gone: nothing can be open inside it but what /proc still names by the old path.
  }
  const fds = descriptorsInside(openFiles(), real)
  for (const fd of fds) {
    try {
      fs.closeSync(fd)
    } catch {
      // Closed already.
    }
  }
  return fds.length
}
