/**
 * `collector spool status` and `collector spool replay FILE.ndjson`, run as the real CLI.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { BUN, ROOT, testConfig } from '../helpers/collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { fixtureFiles, readFixture } from '../helpers/fixtures.ts'
import { openSpool } from '../../src/spool/spool.ts'
import { lockDataDir } from '../../src/data-dir-lock.ts'
import { encodeRecord, encodeRequest } from '../../src/sink/records.ts'
import { ago, replayLine, spoolStatus } from '../../src/cli/spool-commands.ts'
import { createRegistry } from '../../src/adapters/registry.ts'
import { createPagerDutyAdapter } from '../../src/adapters/pagerduty/index.ts'
import { checkpointPath, formatCheckpoint, readCheckpointFile } from '../../src/spool/checkpoint.ts'
import { countPath, listSegments, segmentPath } from '../../src/spool/segments.ts'
import { HEADER_BYTES } from '../../src/spool/frame.ts'
import { contextFor, recordFor } from '../helpers/load.ts'

let db: TestDatabase
beforeAll(async () => { db = await freshDatabase('cli') })
afterAll(async () => { await db.drop() })

const cli = (args: string[], env: Record<string, string>) =>
  Bun.spawn([BUN, path.join(ROOT, 'src/main.ts'), ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env }, stdout: 'pipe', stderr: 'pipe' })

/** What `spool status` prints, run in this process (exit 0) with `spy` in place; the spy is restored after. */
function statusInProcess(dataDir: string, spy: { mockRestore(): void }): string {
  const printed: string[] = []
  const write = spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => { printed.push(chunk); return true }) as typeof process.stdout.write)
  try {
    expect(spoolStatus(testConfig({ DATA_DIR: dataDir }))).toBe(0)
  } finally {
    spy.mockRestore()
    write.mockRestore()
  }
  return printed.join('')
}

describe('collector spool status', () => {
  test('prints the backlog left on disk, without touching it', async () => {
    const dataDir = tempDir('status')
    const spool = openSpool({ dir: path.join(dataDir, 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    for (let i = 0; i < 3; i++) await spool.append(encodeRecord({ events: [], badRows: [] }), 2)
    await spool.close()
    const before = fs.readdirSync(path.join(dataDir, 'spool')).sort()
    const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    expect(out).toContain('backlog events             6\n')
    expect(out).toContain('segments                   1\n')
    expect(out).toContain('corrupt records set aside  0\n')
    expect(out).toContain('checkpoint                 none written yet (nothing loaded since this spool began)\n')
    expect(out).toContain('records gone               none\n')
    // These synthetic records carry no event, so no receipt time.
    expect(out).toContain('oldest waiting received    not recorded in the records waiting\n')
    expect(fs.readdirSync(path.join(dataDir, 'spool')).sort()).toEqual(before)
  })

  test('a damaged checkpoint (past every segment) is not taken for an empty backlog: the status counts from the oldest segment, as the collector replays', async () => {
    const dataDir = tempDir('status-damaged')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 64 })
    for (let i = 0; i < 3; i++) await spool.append(encodeRecord({ events: [], badRows: [] }), 2)
    await spool.close()
    const last = listSegments(dir).at(-1) as number
    fs.writeFileSync(checkpointPath(dir), JSON.stringify({ segment: last + 80, offset: 0 }))
    const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    expect(out).toContain('backlog events             6\n')
    expect(out).toContain('segments                   3\n')
    expect(out).toContain(`checkpoint                 damaged (segment ${last + 80} offset 0: its segment is not in the spool, but 3 before it are); the collector replays from the oldest segment\n`)
  })

  // A checkpoint whose offset was altered inside its segment counted the backlog from there.
  test('a checkpoint altered inside its segment (its checksum does not match) is damaged here too: the status counts from the oldest segment', async () => {
    const dataDir = tempDir('status-altered')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    for (let i = 0; i < 3; i++) await spool.append(encodeRecord({ events: [], badRows: [] }), 2)
    const first = spool.read(spool.checkpoint(), 1, 1 << 30).next
    await spool.commit(first, 2)
    await spool.close()
    const text = fs.readFileSync(checkpointPath(dir), 'utf8')
    fs.writeFileSync(checkpointPath(dir), text.replace(`"offset":${first.offset}`, `"offset":${2 * first.offset}`))
    const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    expect(out).toContain('backlog events             6\n')
    expect(out).toContain(`checkpoint                 damaged (segment ${first.segment} offset ${2 * first.offset}: its checksum does not match its position); the collector replays from the oldest segment\n`)
  })

  /**
   * Segment files removed while the collector was stopped (the oldest ones, to free disk):
   * `serve` reports them at its start (`spool records gone`, counted as corrupt records); the
   * status said nothing of them. Each case: what the status says, that it changed no file,
   * and that a start then reports the same records.
   */
  const RECORD = encodeRecord({ events: [], badRows: [] })
  const FRAME = HEADER_BYTES + Buffer.byteLength(RECORD)
  test.each([
    // No checkpoint yet: the oldest segment's count file is left behind it.
    ['the oldest segment, nothing loaded yet', 0, (segments: number[]) => [segments[0] as number], () => [0]],
    // A gap between two segments left.
    ['a segment between two others', 0, (segments: number[]) => [segments[1] as number], () => [0]],
    // The checkpoint's own segment (one record of its two loaded): lost from the checkpoint on.
    ['the checkpoint\'s own segment, loaded in part', 3, (segments: number[]) => [segments[0] as number], () => [FRAME]],
  ] as const)('records removed while the collector was stopped (%s) are reported, as the collector reports them at its start, and nothing is changed', async (_, loadedRecords, removed, offsets) => {
    const dataDir = tempDir('status-gone')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME })
    for (let i = 0; i < 6; i++) await spool.append(RECORD, 1)
    if (loadedRecords > 0) await spool.commit(spool.read(spool.checkpoint(), loadedRecords, 1 << 30).next, loadedRecords)
    await spool.close()
    const gone = removed(listSegments(dir))
    for (const seq of gone) fs.rmSync(segmentPath(dir, seq))
    const snapshot = () => Object.fromEntries(fs.readdirSync(dir).sort().map((name) => [name, name === 'corrupt' ? null : fs.readFileSync(path.join(dir, name), 'latin1')]))
    const before = snapshot()

    const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    const named = gone.map((seq, i) => (offsets()[i] === 0 ? `segment ${seq}` : `segment ${seq} from offset ${offsets()[i]}`)).join(', ')
    expect(out).toContain(`records gone               ${named}: removed outside the collector; the webhooks in them that had not loaded are lost (the collector logs "spool records gone" at its start and counts them in collector_spool_corrupt_records_total)\n`)
    expect(snapshot()).toEqual(before)

    const reported: { segment: number; offset: number }[] = []
    const started = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME, onCorrupt: ({ segment, offset, bytes }) => { if (bytes === 0) reported.push({ segment, offset }) } })
    await started.close()
    expect(reported).toEqual(gone.map((segment, i) => ({ segment, offset: offsets()[i] as number })))

    // Reported once: the status says so after the start, and the next start is silent.
    const after = cli(['spool', 'status'], { DATA_DIR: dataDir })
    expect(await new Response(after.stdout).text()).toContain(`records gone               ${named}: removed outside the collector; the webhooks in them that had not loaded are lost (reported already, "spool records gone" at an earlier start: not again)\n`)
    expect(await after.exited).toBe(0)
    const again = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME, onCorrupt: ({ segment, offset }) => reported.push({ segment, offset }) })
    await again.close()
    expect(reported.length).toBe(gone.length)
  })

  test('a copy of a deleted segment that a crash caught before its rename (.seg.restore) is not taken for records gone: the start puts it back', async () => {
    const dataDir = tempDir('status-restore')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME })
    for (let i = 0; i < 6; i++) await spool.append(RECORD, 1)
    await spool.close()
    const middle = listSegments(dir)[1] as number
    fs.renameSync(segmentPath(dir, middle), `${segmentPath(dir, middle)}.restore`)
    const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
    expect(await new Response(proc.stdout).text()).toContain('records gone               none\n')
    expect(await proc.exited).toBe(0)
    const reported: number[] = []
    const started = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME, onCorrupt: ({ segment }) => reported.push(segment) })
    expect([reported, started.unreadEvents()]).toEqual([[], 6])
    await started.close()
  })

  // A running collector writes its checkpoint, then deletes the segments it passed: a listing
  // made across that move, read against the checkpoint before it, took its own segment, loaded
  // and deleted, for one removed outside the collector.
  test('a checkpoint that moves while the status lists the spool (a running collector deleting what it loaded) is not taken for records gone', async () => {
    const dataDir = tempDir('status-gone-race')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 2 * FRAME })
    for (let i = 0; i < 6; i++) await spool.append(RECORD, 1)
    await spool.commit(spool.read(spool.checkpoint(), 3, 1 << 30).next, 3)
    await spool.close()
    const [own, next] = listSegments(dir) as [number, number]
    expect(readCheckpointFile(dir).position).toEqual({ segment: own, offset: FRAME })
    const realReaddir = fs.readdirSync
    let moves = 0
    const readdir = spyOn(fs, 'readdirSync').mockImplementation(((where: string, ...rest: unknown[]) => {
      if (String(where) === dir && moves === 0) {
        moves++
        fs.writeFileSync(checkpointPath(dir), formatCheckpoint({ segment: next, offset: 0 }))
        fs.unlinkSync(segmentPath(dir, own))
        fs.unlinkSync(countPath(dir, own))
      }
      return (realReaddir as (...args: unknown[]) => string[])(where, ...rest)
    }) as typeof fs.readdirSync)
    const out = statusInProcess(dataDir, readdir)
    expect(moves).toBe(1)
    expect(out).toContain('records gone               none\n')
  })

  test('says when the oldest webhook waiting was received (about when the tables stop), or that none waits', async () => {
    const dataDir = tempDir('status-oldest')
    const spool = openSpool({ dir: path.join(dataDir, 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const loaded = recordFor('loaded', readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json'), contextFor('loaded', new Date('2026-02-01T08:00:00Z')))
    await spool.append(encodeRecord(loaded), loaded.events.length)
    await spool.commit(spool.end(), loaded.events.length)
    const status = async () => {
      const proc = cli(['spool', 'status'], { DATA_DIR: dataDir })
      const out = await new Response(proc.stdout).text()
      expect(await proc.exited).toBe(0)
      return /^oldest waiting received +(.*)$/m.exec(out)?.[1]
    }
    await spool.close()
    expect(await status()).toBe('none waiting')
    // As a collector stores a webhook: the request as received, its receipt in the head.
    const reopened = openSpool({ dir: path.join(dataDir, 'spool'), maxBytes: 1 << 30, segmentBytes: 1 << 20 })
    const body = readFixture('v1', 'incident.resolve__pagerduty-developer-docs.json')
    await reopened.append(encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx: contextFor('waiting', new Date('2026-03-01T12:00:00Z')) }, body), 1)
    await reopened.close()
    const line = await status()
    expect(line).toStartWith('2026-03-01T12:00:00.000Z (')
    expect(line).toEndWith(' ago)')
  })

  test('ages read as the largest unit and the next', () => {
    expect([0, 40, 302, 3600, 11_525, 187_299].map((s) => ago(s * 1000))).toEqual(['0s', '40s', '5m 2s', '1h 0m', '3h 12m', '2d 4h'])
  })

  test('a DATA_DIR with no spool is an error naming where it looked, not "nothing waiting" (the wrong directory would invite deleting the real one)', async () => {
    const elsewhere = tempDir('status-elsewhere')
    const proc = cli(['spool', 'status'], { DATA_DIR: elsewhere })
    const err = await new Response(proc.stderr).text()
    expect(await proc.exited).toBe(1)
    expect(err).toStartWith(`collector: no spool in ${elsewhere}/spool: DATA_DIR (${elsewhere}) is not where a collector ran.`)
    expect(fs.readdirSync(elsewhere)).toEqual([])
  })

  test('a collector\'s DATA_DIR that has not served yet (its lock file, no spool) has nothing waiting', async () => {
    const fresh = tempDir('status-fresh')
    fs.writeFileSync(path.join(fresh, 'collector.lock'), '')
    const proc = cli(['spool', 'status'], { DATA_DIR: fresh })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(0)
    expect(out).toBe(`no spool in ${fresh}/spool yet (the collector has not served from this DATA_DIR): nothing waiting\n`)
  })

  /**
   * The race the retry is for, made to happen on cue: the collector commits, moves the
   * checkpoint past the oldest segment and deletes it between the status's listing and its
   * read. The status looks again and prints the state after the move.
   */
  test('a segment deleted by a running collector between the listing and the read is looked for again, not an error', async () => {
    const dataDir = tempDir('status-race')
    const dir = path.join(dataDir, 'spool')
    const spool = openSpool({ dir, maxBytes: 1 << 30, segmentBytes: 64 })
    for (let i = 0; i < 3; i++) await spool.append(encodeRecord({ events: [], badRows: [] }), 1)
    await spool.close()
    const segments = listSegments(dir)
    expect(segments.length).toBe(3)
    const [oldest, next] = segments as [number, number]
    const realOpen = fs.openSync
    let moves = 0
    const open = spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (String(file) === segmentPath(dir, oldest) && moves === 0) {
        moves++
        fs.writeFileSync(checkpointPath(dir), JSON.stringify({ segment: next, offset: 0 }))
        fs.unlinkSync(segmentPath(dir, oldest))
      }
      return (realOpen as (...args: unknown[]) => number)(file, ...rest)
    }) as typeof fs.openSync)
    const out = statusInProcess(dataDir, open)
    expect(moves).toBe(1)
    expect(out).toContain('segments                   2\n')
    expect(out).toContain('backlog events             2\n')
    expect(out).toContain(`checkpoint                 segment ${next} offset 0\n`)
  })

  test('a spool whose segments keep vanishing is an error after five looks, not a loop', () => {
    const dataDir = tempDir('status-vanishing')
    const dir = path.join(dataDir, 'spool')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(segmentPath(dir, 0), '')
    let calls = 0
    const open = spyOn(fs, 'openSync').mockImplementation((() => { calls++; throw Object.assign(new Error('ENOENT: no such file or directory, open'), { code: 'ENOENT' }) }) as typeof fs.openSync)
    try {
      expect(() => spoolStatus(testConfig({ DATA_DIR: dataDir }))).toThrow('ENOENT')
    } finally {
      open.mockRestore()
    }
    expect(calls).toBe(5)
  })

})

describe('collector spool replay', () => {
  test('loads recorded webhooks through the adapter, once, even when replayed twice', async () => {
    const dir = tempDir('replay')
    const file = path.join(dir, 'recorded.ndjson')
    const bodies = fixtureFiles('v1').map((f) => JSON.stringify(JSON.parse(readFixture('v1', f))))
    fs.writeFileSync(file, `${bodies.join('\n')}\n{"not":"pagerduty"}\n`)
    const expected = bodies.reduce((n, b) => n + (JSON.parse(b) as { messages: unknown[] }).messages.length, 0)
    for (let round = 0; round < 2; round++) {
      const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: db.url })
      const out = await new Response(proc.stdout).text()
      expect(await proc.exited).toBe(0)
      expect(out).toBe(round === 0
        ? `replayed ${bodies.length + 1} lines: ${expected} events (${expected} new, 0 already loaded), 1 bad\n`
        : `replayed ${bodies.length + 1} lines: ${expected} events (0 new, ${expected} already loaded), 1 bad\n`)
    }
    const [row] = await db.sql`select count(*)::int as n from atomic.events`
    expect(row?.n).toBe(expected)
    const bad = await db.sql`select reason, payload from atomic.bad_rows`
    expect(bad.map((b) => [b.reason, b.payload])).toEqual([['NOT_PAGERDUTY', '{"not":"pagerduty"}']])
    expect(fs.readdirSync(path.join(dir, 'data'))).toEqual([])
  })

  test('with the database down exits 1, says what did not load and to run it again, and leaves nothing in DATA_DIR', async () => {
    const dir = tempDir('replay-down')
    const file = path.join(dir, 'recorded.ndjson')
    fs.writeFileSync(file, `${JSON.stringify(JSON.parse(readFixture('v1', fixtureFiles('v1')[0] as string)))}\n`)
    const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing', SHUTDOWN_DRAIN_MS: '0', LOG_LEVEL: 'warn' })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(1)
    expect(out).toMatch(/NOT loaded \(.+\): run the same replay again once the database is reachable/)
    // Its private spool is deleted: nothing "waits in the spool" after a replay.
    expect(out).toContain('"msg":"database unavailable: the replay stops here; run it again once the database is reachable"')
    expect(out).not.toContain('events wait in the spool')
    expect(fs.readdirSync(path.join(dir, 'data'))).toEqual([])
  }, 30_000)

  // Its bad rows count no event: with nothing but rejected lines, "0 NOT loaded" passed for
  // all loaded, exit 0, and the private spool holding them was deleted.
  test('with the database down, a file of rejected lines only (bad rows, no event) exits 1 and says they did not load', async () => {
    const dir = tempDir('replay-down-bad')
    const file = path.join(dir, 'recorded.ndjson')
    fs.writeFileSync(file, 'not json\n{"not":"pagerduty"}\n')
    const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing', LOG_LEVEL: 'error' })
    const out = await new Response(proc.stdout).text()
    expect(await proc.exited).toBe(1)
    expect(out).toMatch(/^replayed 2 lines: 0 events \(0 new, 0 already loaded\), 2 bad, bad rows NOT loaded \(.+\): run the same replay again once the database is reachable; what did load is not loaded twice\n$/)
  }, 30_000)

  // process.exit on the signal skipped the finally that removes it: its spool stayed for good.
  test('interrupted (SIGINT) while the database does not answer, it exits 130 and leaves no private spool in DATA_DIR', async () => {
    const dir = tempDir('replay-interrupted')
    const file = path.join(dir, 'recorded.ndjson')
    fs.writeFileSync(file, `${JSON.stringify(JSON.parse(readFixture('v1', fixtureFiles('v1')[0] as string)))}\n`)
    // Takes the connection and never answers: the replay waits for the database.
    await using silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: `postgres://postgres@127.0.0.1:${silent.port}/nothing` })
    const listed = () => (fs.existsSync(path.join(dir, 'data')) ? fs.readdirSync(path.join(dir, 'data')) : [])
    const deadline = Date.now() + 10_000
    while (!listed().some((f) => f.startsWith('replay-')) && Date.now() < deadline) await Bun.sleep(20)
    expect(fs.readdirSync(path.join(dir, 'data'))).toEqual([`replay-${proc.pid}`])
    proc.kill('SIGINT')
    expect(await proc.exited).toBe(130)
    expect(fs.readdirSync(path.join(dir, 'data'))).toEqual([])
  }, 30_000)

  // SIGKILL (or the OOM killer) runs no exit handler: its spool, up to SPOOL_MAX_BYTES, stayed for good.
  test('killed with SIGKILL, its private spool is removed by the next load in DATA_DIR; that of a load still running is not', async () => {
    const dir = tempDir('replay-killed')
    const dataDir = path.join(dir, 'data')
    const file = path.join(dir, 'recorded.ndjson')
    fs.writeFileSync(file, `${JSON.stringify(JSON.parse(readFixture('v1', fixtureFiles('v1')[0] as string)))}\n`)
    await using silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const killed = cli(['spool', 'replay', file], { DATA_DIR: dataDir, DATABASE_URL: `postgres://postgres@127.0.0.1:${silent.port}/nothing` })
    const listed = () => (fs.existsSync(dataDir) ? fs.readdirSync(dataDir).sort() : [])
    const deadline = Date.now() + 10_000
    while (!listed().some((f) => f.startsWith('replay-')) && Date.now() < deadline) await Bun.sleep(20)
    killed.kill('SIGKILL')
    expect(await killed.exited).toBe(137)
    // This test's own process stands for a load still running.
    fs.mkdirSync(path.join(dataDir, `bad-rows-retry-${process.pid}`))
    expect(listed()).toEqual([`bad-rows-retry-${process.pid}`, `replay-${killed.pid}`].sort())
    const again = cli(['spool', 'replay', file], { DATA_DIR: dataDir, DATABASE_URL: db.url })
    expect(await again.exited).toBe(0)
    expect(listed()).toEqual([`bad-rows-retry-${process.pid}`])
  }, 30_000)

  // In a container sharing DATA_DIR a live load's pid is another PID namespace's: not running
  // here, its spool was removed under it. Its lock (which a killed load's kernel drops) says.
  test('a private spool whose pid is not running here but whose lock is held (a load in another container) is not removed', async () => {
    const dir = tempDir('replay-elsewhere')
    const dataDir = path.join(dir, 'data')
    const file = path.join(dir, 'recorded.ndjson')
    fs.writeFileSync(file, `${JSON.stringify(JSON.parse(readFixture('v1', fixtureFiles('v1')[0] as string)))}\n`)
    const gone = Bun.spawn(['true'])
    await gone.exited
    const elsewhere = path.join(dataDir, `replay-${gone.pid}`)
    const lock = lockDataDir(elsewhere)
    try {
      expect(lock.held).toBe(true)
      fs.writeFileSync(path.join(elsewhere, 'segment-in-use'), 'x')
      const again = cli(['spool', 'replay', file], { DATA_DIR: dataDir, DATABASE_URL: db.url })
      expect(await again.exited).toBe(0)
      expect(fs.readdirSync(dataDir)).toEqual([`replay-${gone.pid}`])
      expect(fs.existsSync(path.join(elsewhere, 'segment-in-use'))).toBe(true)
    } finally {
      lock.release()
    }
  }, 30_000)

  test('the webhook URL\'s query string gives replayed events their app_id and platform; a rejected line is named by its line in the file', async () => {
    const dir = tempDir('replay-query')
    const file = path.join(dir, 'recorded.ndjson')
    const body = readFixture('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json').replace('01DEN0V2VIFEN5871PQGX72URP', 'REPLAY-QUERY-1')
    fs.writeFileSync(file, `\n\n${JSON.stringify(JSON.parse(body))}\n\nnot json https://alice:S3cret@collector.example/com.pagerduty/v1\n`)
    const proc = cli(['spool', 'replay', file, 'aid=acme&p=WEB&other=x'], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: db.url, LOG_LEVEL: 'warn' })
    const out = (await new Response(proc.stdout).text()).split('\n').filter(Boolean)
    expect(await proc.exited).toBe(0)
    // The log (JSON lines on stdout), then the summary.
    expect(out.at(-1)).toBe('replayed 2 lines: 1 events (1 new, 0 already loaded), 1 bad')
    expect(out.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'replay line rejected').map((l) => [l.line, l.reason])).toEqual([[5, 'INVALID_JSON']])
    const [row] = await db.sql`select e.app_id, e.platform from atomic.events e join atomic.com_pagerduty_webhook_v3_event_1 v on v.root_id = e.event_id where v.id = 'REPLAY-QUERY-1'`
    expect(row).toEqual({ app_id: 'acme', platform: 'web' })
    // The rejected line's bad row keeps it, credentials in URLs replaced, as over HTTP.
    const bad = await db.sql`select payload from atomic.bad_rows where payload like 'not json%'`
    expect(bad.map((b) => b.payload)).toEqual(['not json https://***@collector.example/com.pagerduty/v1'])
  })

  test('a line longer than MAX_BODY_BYTES is a PAYLOAD_TOO_LARGE bad row of its first MAX_BODY_BYTES, as over HTTP, named by its line; it loads nothing', async () => {
    const dir = tempDir('replay-too-large')
    const file = path.join(dir, 'recorded.ndjson')
    const v1 = JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')) as { messages: Record<string, unknown>[] }
    const large = { messages: [{ ...v1.messages[0], id: 'REPLAY-TOO-LARGE-1', padding: 'x'.repeat(70_000) }] }
    fs.writeFileSync(file, `${JSON.stringify(large)}\n`)
    const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: db.url, MAX_BODY_BYTES: '64KiB', LOG_LEVEL: 'warn' })
    const out = (await new Response(proc.stdout).text()).split('\n').filter(Boolean)
    expect(await proc.exited).toBe(0)
    expect(out.at(-1)).toBe('replayed 1 lines: 0 events (0 new, 0 already loaded), 1 bad')
    expect(out.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'replay line rejected').map((l) => [l.line, l.reason])).toEqual([[1, 'PAYLOAD_TOO_LARGE']])
    const bad = await db.sql`select reason, length(payload)::int as length from atomic.bad_rows where payload like '%REPLAY-TOO-LARGE-1%'`
    expect(bad.map((b) => [b.reason, b.length])).toEqual([['PAYLOAD_TOO_LARGE', 64 * 1024]])
    expect((await db.sql`select count(*)::int as n from atomic.com_pagerduty_incident_1 where id = 'REPLAY-TOO-LARGE-1'`)[0]?.n).toBe(0)
  })

  test('a line whose messages go to bad rows (an unknown type, a v3 event without data, 150 past the cap) is named by its line too, with how many', async () => {
    const dir = tempDir('replay-bad-messages')
    const file = path.join(dir, 'recorded.ndjson')
    const v1 = JSON.parse(readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')) as { messages: Record<string, unknown>[] }
    const unknown = { messages: [{ ...v1.messages[0], id: 'REPLAY-BAD-MESSAGE-1', type: 'incident.teleport' }] }
    const v3 = JSON.parse(readFixture('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json')) as { event: Record<string, unknown> }
    const noData = { event: { ...v3.event, id: 'REPLAY-BAD-MESSAGE-2', data: undefined } }
    // Past the cap of 100 bad rows a request, its messages share one row; counted as messages, as over HTTP.
    const pastCap = { messages: Array.from({ length: 150 }, (_, i) => ({ type: 'incident.teleport', id: `REPLAY-PAST-CAP-${i}` })) }
    fs.writeFileSync(file, `${JSON.stringify(unknown)}\n${JSON.stringify(JSON.parse(readFixture('v1', 'incident.resolve__pagerduty-developer-docs.json')))}\n${JSON.stringify(noData)}\n${JSON.stringify(pastCap)}\n`)
    const proc = cli(['spool', 'replay', file], { DATA_DIR: path.join(dir, 'data'), DATABASE_URL: db.url, LOG_LEVEL: 'warn' })
    const out = (await new Response(proc.stdout).text()).split('\n').filter(Boolean)
    expect(await proc.exited).toBe(0)
    expect(out.at(-1)).toMatch(/^replayed 4 lines: 1 events \(\d new, \d already loaded\), 152 bad$/)
    const named = out.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'replay line has messages sent to bad rows')
    expect(named.map((l) => [l.line, l.messages, l.reasons])).toEqual([[1, 1, ['UNKNOWN_EVENT_TYPE']], [3, 1, ['INVALID_EVENT']], [4, 150, ['TOO_MANY_BAD_MESSAGES']]])
  })
})

// As over HTTP (src/events/raw-body.ts): a refused line that is not text is kept as base64,
// and one cut at MAX_BODY_BYTES loses the character the cut splits, not the bytes before it.
describe('a replayed line refused for its body', () => {
  const adapter = createRegistry([createPagerDutyAdapter('0.0.0-test')]).lookup('com.pagerduty', 'v1')
  test('holding a NUL: its bytes as base64, said in its request column', () => {
    const line = '{"messages":[{"a":"x\u0000y"}]}'
    const [row] = replayLine(line, contextFor('replay-nul'), adapter, 1024).badRows
    expect([row?.reason, row?.payload, JSON.parse(String(row?.request)).payload_encoding]).toEqual(['INVALID_JSON', Buffer.from(line).toString('base64'), 'base64'])
  })

  test('over MAX_BODY_BYTES: its first MAX_BODY_BYTES as text, without a character cut in two', () => {
    const [row] = replayLine(`{"messages":[{"pad":"${'\u00e9'.repeat(100)}"}]}`, contextFor('replay-cut'), adapter, 64).badRows
    expect([row?.reason, row?.payload]).toEqual(['PAYLOAD_TOO_LARGE', `{"messages":[{"pad":"${'\u00e9'.repeat(21)}`])
  })
})
