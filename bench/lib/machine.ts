/** The machine a run happened on, for the results header. */
import os from 'node:os'
import fs from 'node:fs'

export function describeMachine(): string {
  const cpus = os.cpus()
  const model = cpus[0]?.model.trim() ?? 'unknown CPU'
  const memGiB = (os.totalmem() / 1024 ** 3).toFixed(1)
  return `${cpus.length} cores (${model}), ${memGiB} GiB RAM, ${os.type()} ${os.release()}, Bun ${Bun.version}`
}

/** Peak resident set size of a process, in bytes (`VmHWM` in /proc/PID/status). */
export function peakRss(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1]
  return kib ? Number(kib) * 1024 : NaN
}

/** The command name and the user and system CPU seconds (utime, stime) in the text of /proc/PID/stat. */
function parseStat(stat: string): { comm: string; user: number; system: number } {
  const close = stat.lastIndexOf(')')
  const fields = stat.slice(close + 2).split(' ')
  const ticks = 100 // USER_HZ: 100 on every Linux this runs on
  return { comm: stat.slice(stat.indexOf('(') + 1, close), user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks }
}

/** CPU seconds (user + system) used so far by every process whose command name is `comm` (Linux /proc). */
export function cpuSecondsOf(comm: string): number {
  let total = 0
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const stat = parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
      if (stat.comm === comm) total += stat.user + stat.system
    } catch { /* exited meanwhile */ }
  }
  return total
}

/** CPU seconds used so far by one process, all its threads, user and system apart (Linux /proc). */
export function cpuTimesOfPid(pid: number): { user: number; system: number } {
  const { user, system } = parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  return { user, system }
}

/** CPU seconds (user + system) used so far by one process. */
export function cpuSecondsOfPid(pid: number): number {
  const { user, system } = cpuTimesOfPid(pid)
  return user + system
}
