/**
 * The C library calls Node has no binding for, through bun:ffi, loaded once on first use:
 * flock(2) for the DATA_DIR lock and syncfs(2) for the embedded database's flush. Null where
 * the library cannot be loaded (bun:ffi only exists under Bun, which the collector always runs
 * on); each caller says what it does without.
 */
export interface Libc {
  flock(fd: number, operation: number): number
  /** syncfs(2); null off Linux (no such call). */
  syncfs: ((fd: number) => number) | null
  /** errno after a call that failed. */
  errno(): number
  /** EWOULDBLOCK. */
  wouldBlock: number
}

let libc: Libc | null | undefined

export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc
  try {
    const { dlopen, FFIType, read } = require('bun:ffi') as typeof import('bun:ffi')
    const darwin = process.platform === 'darwin'
    const errnoSymbol = darwin ? '__error' : '__errno_location'
    const lib = dlopen(darwin ? 'libc.dylib' : 'libc.so.6', {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      [errnoSymbol]: { args: [], returns: FFIType.ptr },
      ...(process.platform === 'linux' ? { syncfs: { args: [FFIType.i32], returns: FFIType.i32 } } : {}),
    })
    const symbols = lib.symbols as Record<string, (...args: number[]) => unknown>
    const errnoAt = symbols[errnoSymbol] as () => number | null
    const syncfs = symbols.syncfs
    libc = {
      flock: (fd, operation) => symbols.flock!(fd, operation) as number,
      syncfs: syncfs ? (fd) => syncfs(fd) as number : null,
      errno: () => { const at = errnoAt(); return at ? read.i32(at, 0) : 0 },
      wouldBlock: darwin ? 35 : 11,
    }
  } catch {
    libc = null
  }
  return libc
}
