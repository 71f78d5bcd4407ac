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

/**
 * Gives every entry under `dir` that root owns to `owner`: coreutils `chown -R -P
 * --from=0`, which never follows a symlink (a walk in JavaScript could be raced: the owner
 * swapping a directory for a link between the listing and the descent would have root chown
 * what the link points to). True when it ran cleanly.
 */
export function giveBack(dir: string, owner: Owner): boolean {
  const run = Bun.spawnSync(['chown', '-R', '-P', '--from=0', `${owner.uid}:${owner.gid}`, '--', dir], { stdout: 'ignore', stderr: 'pipe' })
  return run.exitCode === 0
}
