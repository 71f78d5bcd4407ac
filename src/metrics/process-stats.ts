/**
 * The process's own figures under Prometheus's standard `process_*` names, read from /proc
 * when asked (Linux; elsewhere the file-descriptor figures are null and not shown), and a
 * watch that puts open files near their limit in the log: at the limit Bun stops accepting
 * connections without a word, and PagerDuty's deliveries wait unanswered.
 */
import fs from 'node:fs'
import type { Log } from '../log.ts'

export interface ProcessStats {
  /** User and system CPU of every thread (the embedded database's included), in seconds. */
  cpuSeconds: number
  /** Null when it cannot be read: Bun reads it from /proc, which fails at the file limit. */
  residentBytes: number | null
  openFds: number | null
  /** The soft limit (LimitNOFILE, `ulimit -n`); null when unlimited or unknown. */
  maxFds: number | null
}

/** The soft limit from the text of /proc/PID/limits. */
export function parseMaxOpenFiles(limits: string): number | null {
  const line = limits.split('\n').find((l) => l.startsWith('Max open files'))
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
  if (soft === undefined || soft === 'unlimited') return null
  const n = Number(soft)
  return Number.isSafeInteger(n) && n > 0 ? n : null
}

function readOrNull<T>(read: () => T): T | null {
  try {
    return read()
  } catch {
    return null
  }
}

const atLimit = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return code === 'EMFILE' || code === 'ENFILE'
}

/**
 * A reader of the figures. Reading /proc takes a descriptor itself, so at the limit the read
 * fails with EMFILE: that is the answer (open = the limit last read), not an unknown.
 */
export function processStatsReader(procDir = '/proc/self'): () => ProcessStats {
  const readMaxFds = () => readOrNull(() => parseMaxOpenFiles(fs.readFileSync(`${procDir}/limits`, 'utf8')))
  // Read once now, while a descriptor is free: first read at the limit, the limit was unknown,
  // the count with it, and a collector flooded before its first check (5 s, or a scrape)
  // stayed at the limit without a warning.
  let maxFds = readMaxFds()
  return () => {
    const cpu = process.cpuUsage()
    maxFds = readMaxFds() ?? maxFds
    let openFds: number | null
    try {
      // The listing's own descriptor is in it, open while it is read.
      openFds = fs.readdirSync(`${procDir}/fd`).length - 1
    } catch (error) {
      openFds = atLimit(error) ? maxFds : null
    }
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, residentBytes: readOrNull(() => process.memoryUsage.rss()), openFds, maxFds }
  }
}

/** Open files at this share of the limit or more: warned. */
export const FD_WARN_SHARE = 0.9
/** Back under this share: the all-clear (apart from the warning's, so a count hovering at it does not flood the log). */
export const FD_CLEAR_SHARE = 0.8

export type FdLevel = 'ok' | 'near_limit'

/** The watch's next level, from its last one and the figures now (pure). */
export function nextFdLevel(level: FdLevel, stats: Pick<ProcessStats, 'openFds' | 'maxFds'>): FdLevel {
  if (stats.openFds === null || stats.maxFds === null) return level
  const share = stats.openFds / stats.maxFds
  if (level === 'ok') return share >= FD_WARN_SHARE ? 'near_limit' : 'ok'
  return share < FD_CLEAR_SHARE ? 'ok' : 'near_limit'
}

export interface FdWatch {
  /** Reads the figures and logs a change of level; returns the figures read. */
  check(): ProcessStats
  stop(): void
}

/** Checks every `intervalMs`, and whenever `check` is called (each scrape of /metrics). */
export function watchOpenFiles(log: Log, intervalMs: number, read: () => ProcessStats = processStatsReader()): FdWatch {
  let level: FdLevel = 'ok'
  const check = () => {
    const stats = read()
    const next = nextFdLevel(level, stats)
    if (next !== level) {
      const fields = { open_files: stats.openFds, max_open_files: stats.maxFds }
      if (next === 'near_limit') log('warn', 'open files are near the limit (LimitNOFILE): at the limit new connections wait unanswered until others close; raise LimitNOFILE, or look for clients holding connections open', fields)
      else log('info', 'open files are back under the limit', fields)
      level = next
    }
    return stats
  }
  const timer = setInterval(check, intervalMs)
  timer.unref()
  return { check, stop: () => clearInterval(timer) }
}
