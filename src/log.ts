/**
 * Logs: one JSON object per line on stdout (`time`, `level`, `msg`, then fields). Payload
 * contents never go into info-level lines: webhooks can carry personal data.
 */
import type { LogLevel } from './config.ts'

export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLog(minimum: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line)): Log {
  return (level, msg, fields) => {
    if (ORDER[level] < ORDER[minimum]) return
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`)
  }
}

export interface RateLimitedLog {
  (key: string, level: LogLevel, msg: string, fields?: Record<string, unknown>): void
  /** The condition behind `key` ended: its next line is written at once, as a first one. */
  forget(key: string): void
}

/**
 * Wraps a log so a line with the same `key` is written at most once per `intervalMs`; the
 * count of suppressed lines rides on the next one (for per-bad-row reasons under a flood).
 */
export function rateLimited(log: Log, intervalMs: number): RateLimitedLog {
  const last = new Map<string, { at: number; suppressed: number }>()
  const write = (key: string, level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    const now = Date.now()
    const entry = last.get(key)
    if (entry && now - entry.at < intervalMs) { entry.suppressed++; return }
    log(level, msg, entry?.suppressed ? { ...fields, suppressed: entry.suppressed } : fields)
    last.set(key, { at: now, suppressed: 0 })
  }
  return Object.assign(write, { forget: (key: string) => { last.delete(key) } })
}
