/**
 * The process_* figures and the watch on open files: the limit parsed from /proc's text, the
 * count read from /proc/self/fd (one more per file opened), the level's hysteresis, and one
 * log line each way however long the condition lasts.
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import { FD_CLEAR_SHARE, FD_WARN_SHARE, nextFdLevel, parseMaxOpenFiles, processStatsReader, watchOpenFiles, type ProcessStats } from '../../src/metrics/process-stats.ts'
import type { LogLevel } from '../../src/config.ts'

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`

test('the soft limit is read from /proc/PID/limits; unlimited or absent is null', () => {
  expect(parseMaxOpenFiles(LIMITS)).toBe(1024)
  expect(parseMaxOpenFiles(LIMITS.replace('1024     ', 'unlimited'))).toBeNull()
  expect(parseMaxOpenFiles('Limit Soft Hard Units\n')).toBeNull()
})

test.skipIf(process.platform !== 'linux')('on Linux: the limit this process runs under, and one more open file per file opened', () => {
  const read = processStatsReader()
  const soft = Number(Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim())
  const before = read()
  expect(before.maxFds).toBe(soft)
  expect(before.residentBytes).toBeGreaterThan(10 * 1024 * 1024)
  expect(before.cpuSeconds).toBeGreaterThan(0)
  // Other files of this process (an earlier test's sockets) can open or close meanwhile: the
  // difference is measured a few times and must be exact once.
  const differences: number[] = []
  for (let attempt = 0; attempt < 5 && differences.at(-1) !== 10; attempt++) {
    const at = read().openFds as number
    const fds = Array.from({ length: 10 }, () => fs.openSync('/dev/null', 'r'))
    try {
      differences.push((read().openFds as number) - at)
    } finally {
      for (const fd of fds) fs.closeSync(fd)
    }
  }
  expect(differences.at(-1)).toBe(10)
})

test('near the limit from 90% of it, ok again only under 80%; unknown figures change nothing', () => {
  const at = (openFds: number | null, maxFds: number | null = 100) => ({ openFds, maxFds })
  expect([FD_WARN_SHARE, FD_CLEAR_SHARE]).toEqual([0.9, 0.8])
  expect(nextFdLevel('ok', at(89))).toBe('ok')
  expect(nextFdLevel('ok', at(90))).toBe('near_limit')
  expect(nextFdLevel('near_limit', at(85))).toBe('near_limit')
  expect(nextFdLevel('near_limit', at(80))).toBe('near_limit')
  expect(nextFdLevel('near_limit', at(79))).toBe('ok')
  expect(nextFdLevel('near_limit', at(null))).toBe('near_limit')
  expect(nextFdLevel('ok', at(95, null))).toBe('ok')
})

test('the watch logs a warning once when the count nears the limit, and once when it is back under', () => {
  const lines: [LogLevel, string, unknown][] = []
  const counts = [10, 95, 97, 100, 85, 60, 61]
  let i = 0
  const read = (): ProcessStats => ({ cpuSeconds: 1, residentBytes: 1, openFds: counts[i++] as number, maxFds: 100 })
  const watch = watchOpenFiles((level, msg, fields) => { lines.push([level, msg, fields]) }, 60_000, read)
  try {
    for (const _ of counts) watch.check()
  } finally {
    watch.stop()
  }
  expect(lines.map(([level, msg, fields]) => [level, msg.split(':')[0], fields])).toEqual([
    ['warn', 'open files are near the limit (LimitNOFILE)', { open_files: 95, max_open_files: 100 }],
    ['info', 'open files are back under the limit', { open_files: 60, max_open_files: 100 }],
  ])
})

// The limit was read only at the first figures asked for: at the limit that read fails, and a
// collector flooded before its first check (5 s after start, or a scrape) never warned.
test.skipIf(process.platform !== 'linux')('first figures read at the limit: open files are the limit, known from when the reader was made', async () => {
  const script = `
    import fs from 'node:fs'
    import { processStatsReader } from ${JSON.stringify(`${import.meta.dir}/../../src/metrics/process-stats.ts`)}
    const read = processStatsReader()
    const held = []
    try { for (;;) held.push(fs.openSync('/dev/null', 'r')) } catch (error) { if (error.code !== 'EMFILE') throw error }
    const { openFds, maxFds } = read()
    process.stdout.write(JSON.stringify({ openFds, maxFds }))
  `
  const proc = Bun.spawn(['sh', '-c', 'ulimit -n 64 && exec "$0" -e "$1"', process.execPath, script], { stdout: 'pipe', stderr: 'inherit' })
  const out = await new Response(proc.stdout).text()
  expect(await proc.exited).toBe(0)
  expect(JSON.parse(out)).toEqual({ openFds: 64, maxFds: 64 })
})
