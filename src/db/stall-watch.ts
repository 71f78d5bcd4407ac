/**
 * How long the database has kept the writer waiting: the oldest of the writer's calls to it
 * (a batch's write, the idle probe, the start's table check) not answered yet. PGlite serves
 * one statement at a time to every connection, so a psql query that runs for hours, a
 * transaction left open, or a PGlite that no longer answers (`convert_to(x, 'WIN1252')`)
 * holds every write behind it; no timeout of the writer's can end that. Past
 * EMBEDDED_STALL_RESTART_MS the embedded database is restarted (src/app.ts).
 */
import type { Sink } from '../sink/batch.ts'

export interface StallWatch {
  /** `sink`, its calls timed while they wait. */
  watch(sink: Sink): Sink
  /** Milliseconds the oldest call still waiting has waited; 0 when none waits. */
  waitingMs(): number
}

export function createStallWatch(now: () => number = () => performance.now()): StallWatch {
  const waiting = new Set<{ since: number }>()
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const entry = { since: now() }
    waiting.add(entry)
    try {
      return await call()
    } finally {
      waiting.delete(entry)
    }
  }
  return {
    watch: (sink) => ({
      dialect: sink.dialect,
      write: (batch) => timed(() => sink.write(batch)),
      ...(sink.prepare ? { prepare: () => timed(() => (sink.prepare as () => Promise<void>)()) } : {}),
      ...(sink.ping ? { ping: () => timed(() => (sink.ping as () => Promise<void>)()) } : {}),
      ...(sink.abandon ? { abandon: () => (sink.abandon as () => void)() } : {}),
    }),
    waitingMs() {
      let oldest = Infinity
      for (const entry of waiting) oldest = Math.min(oldest, entry.since)
      return oldest === Infinity ? 0 : now() - oldest
    },
  }
}

/** Why the embedded database is restarted: the writer's wait, and whether PGlite said it is wedged. */
export interface Stall { waitedMs: number; wedged: boolean }

export interface StallGuard {
  /** Looks once (the timer does it every `everyMs`): calls `onStall` if the wait has reached the limit. */
  check(): void
  /** PGlite is known to answer nothing more (src/db/protocol-queue.ts): `onStall` at once. */
  wedged(): void
  stop(): void
}

/**
 * Calls `onStall` when the writer has waited `limitMs` for the database (looking every
 * `everyMs`), or when told PGlite is wedged; once: not again until the promise it returns has
 * settled (a restart takes a second or two, during which the calls in flight fail and new
 * ones are refused).
 */
export function guardStalls(watch: StallWatch, limitMs: number, onStall: (stall: Stall) => Promise<void>, everyMs = 1000): StallGuard {
  let handling = false
  const handle = (stall: Stall) => {
    handling = true
    void onStall(stall).finally(() => { handling = false })
  }
  const check = () => {
    const waitedMs = watch.waitingMs()
    if (!handling && waitedMs >= limitMs) handle({ waitedMs, wedged: false })
  }
  const timer = setInterval(check, everyMs)
  return {
    check,
    wedged: () => { if (!handling) handle({ waitedMs: watch.waitingMs(), wedged: true }) },
    stop: () => clearInterval(timer),
  }
}
