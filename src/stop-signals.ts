/**
 * The signals that stop the collector, taken from the entry's first statement. Loading the
 * rest of the program takes 0.1-0.2 s (more on a busy machine); a signal in that time met
 * the default action and the process died of it (status 143, 129 after SIGHUP, which
 * systemd counts as a clean stop and does not restart). Held here, it is handed to the
 * command once it is ready for it. This module imports nothing, so that it loads at once.
 */

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const
export type StopSignal = (typeof STOP_SIGNALS)[number]

/** 128 + the signal's number: the status a shell reports for a death by it. */
export const SIGNAL_STATUS: Readonly<Record<StopSignal, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 }

export interface StopSignals {
  /** The first stop signal received while they were held, or null. */
  readonly first: StopSignal | null
  /** From now on each stop signal goes to `handler`; those held so far go to it at once, in order. */
  handTo(handler: (signal: StopSignal) => void): void
}

/** Catches the stop signals at once, holding each until `handTo` names who takes them. */
export function holdStopSignals(): StopSignals {
  const held: StopSignal[] = []
  let first: StopSignal | null = null
  let handler: ((signal: StopSignal) => void) | null = null
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (handler) handler(signal)
      else {
        first ??= signal
        held.push(signal)
      }
    })
  }
  return {
    get first() { return first },
    handTo(next) {
      handler = next
      for (const signal of held.splice(0)) next(signal)
    },
  }
}
