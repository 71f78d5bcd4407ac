/** The machine a run happened on, for the results header. */
import os from 'node:os'

export function describeMachine(): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const memGiB = (os.totalmem() / 1024 ** 3).toFixed(1)
  return `${cpus.length} cores (${model}), ${memGiB} GiB RAM, ${os.type()} ${os.release()}, Bun ${Bun.version}`
}

/** Peak resident set size of a process, in bytes (`VmHWM` in /proc/PID/status). */
export function peakRss(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1]
  return kib ? Number(kib) * 1024 : NaN
}
