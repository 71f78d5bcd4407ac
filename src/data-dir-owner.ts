/**
 * `sudo collector spool replay ...` (or `migrate`, `bad-rows retry`) on the service's
 * DATA_DIR, which its systemd DynamicUser owns: what root creates there (the embedded
 * database's files, above all) the service can no longer open, and PGlite aborts at its next
 * start. So when root runs a command on a DATA_DIR another user owns, whatever root owns
 * under it when the command ends is given to that owner. (Switching to the owner's uid
 * instead would lose the way in: a DynamicUser's directory sits under the root-only
 * /var/lib/private.)
 */
import fs from 'node:fs'
import path from 'node:path'

export interface Owner { uid: number; gid: number }

/** DATA_DIR's owner when this process is root and someone else owns it; else null. */
export function foreignOwner(dataDir: string): Owner | null {
  if (typeof process.geteuid !== 'function' || process.geteuid() !== 0) return null
  try {
    const st = fs.statSync(dataDir)
    return st.isDirectory() && st.uid !== 0 ? { uid: st.uid, gid: st.gid } : null
  } catch {
    return null
  }
}

/** Gives every entry under `dir` that root owns to `owner` (symlinks themselves, not followed); how many. */
export function giveBack(dir: string, owner: Owner): number {
  let given = 0
  const visit = (at: string) => {
    let entries: fs.Dirent[]
    try {
      entries = fs.readdirSync(at, { withFileTypes: true })
    } catch {
      return // gone meanwhile, or not a directory we may read
    }
    for (const entry of entries) {
      const file = path.join(at, entry.name)
      try {
        if (fs.lstatSync(file).uid === 0) {
          fs.lchownSync(file, owner.uid, owner.gid)
          given++
        }
      } catch {
        continue // removed while we walked
      }
      if (entry.isDirectory()) visit(file)
    }
  }
  visit(dir)
  return given
}
