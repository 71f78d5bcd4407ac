/**
 * Spool files damaged outside the collector, with the real process: a checkpoint file that
 * names a segment past every one (one flipped digit) after a SIGKILL, and a sealed segment
 * removed while the collector runs. Every acknowledged message that is still on disk loads
 * exactly once; what was lost is reported, never a silent deletion or a wedged writer.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { freshDatabase, tempDir, type TestDatabase } from '../helpers/database.ts'
import { BUN, ROOT, eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { downDatabase } from '../helpers/outage.ts'
import { tally, untilLoaded, v1Body } from '../helpers/traffic.ts'
import { checkpointPath, readCheckpoint } from '../../src/spool/checkpoint.ts'
import { listSegments, segmentPath } from '../../src/spool/segments.ts'

let db: TestDatabase
const dirs: string[] = []
beforeAll(async () => { db = await freshDatabase('damaged_spool') }, 60_000)
afterAll(async () => {
  await db.drop()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
}, 30_000)

const GONE = 'spool records gone: their segment file was removed or cut short outside the collector; the webhooks it held from this offset on that had not loaded are lost'

/** Posts one message per request; the ids that got a 202. */
async function post(url: string, prefix: string, from: number, to: number): Promise<string[]> {
  const acked: string[] = []
  for (let i = from; i < to; i++) {
    if ((await postJson(`${url}/com.pagerduty/v1`, v1Body([`${prefix}-${i}`]))).status === 202) acked.push(`${prefix}-${i}`)
  }
  return acked
}

test('SIGKILL, then a checkpoint damaged to name a segment past every one: the restart deletes nothing, says so, and loads every acknowledged message once', async () => {
  const dataDir = tempDir('damaged-checkpoint')
  dirs.push(dataDir)
  const spool = path.join(dataDir, 'spool')
  const env = { DATA_DIR: dataDir, SPOOL_SEGMENT_BYTES: '8192' }
  const loading = await spawnCollector({ ...env, DATABASE_URL: db.url })
  const acked = await post(loading.url, 'ckpt', 0, 10)
  await untilLoaded(db.sql, new Set(acked), 'ckpt')
  await eventually(() => readCheckpoint(spool).segment > 0, 10_000, 'a checkpoint written')
  loading.proc.kill('SIGKILL')
  await loading.proc.exited

  const { proxy, url } = downDatabase(db)
  const down = await spawnCollector({ ...env, DATABASE_URL: url })
  acked.push(...await post(down.url, 'ckpt', 10, 60))
  down.proc.kill('SIGKILL')
  await down.proc.exited
  const segments = listSegments(spool)
  fs.writeFileSync(checkpointPath(spool), JSON.stringify({ segment: (segments.at(-1) as number) + 80, offset: 0 }))

  proxy.open()
  const again = await spawnCollector({ ...env, DATABASE_URL: url })
  try {
    expect(await untilLoaded(db.sql, new Set(acked), 'ckpt')).toEqual({ acked: 60, loaded: 60, lost: 0, duplicated: 0 })
    expect(again.output()).toContain('"msg":"spool checkpoint damaged: replaying from the oldest segment (what loaded already is not loaded twice)"')
  } finally {
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
    proxy.close()
  }
}, 90_000)

test('a sealed segment removed while the collector runs: its messages are reported lost, and every other acknowledged message loads, those after it included', async () => {
  const dataDir = tempDir('removed-segment')
  dirs.push(dataDir)
  const spool = path.join(dataDir, 'spool')
  const { proxy, url } = downDatabase(db)
  const env = { DATA_DIR: dataDir, DATABASE_URL: url, SPOOL_SEGMENT_BYTES: '8192' }
  const first = await spawnCollector(env)
  const acked = await post(first.url, 'gone', 0, 40)
  // Restarted, so the backlog is read from disk (a process reads what it appended from memory).
  first.proc.kill('SIGKILL')
  await first.proc.exited
  const collector = await spawnCollector(env)
  try {
    const [, removed] = listSegments(spool) as [number, number]
    const lost = new Set<string>()
    // The messages in the removed segment: each record is a request's raw body, its id inside.
    for (const id of acked) if (fs.readFileSync(segmentPath(spool, removed)).includes(`"id":"${id}"`)) lost.add(id)
    expect(lost.size).toBeGreaterThan(0)
    fs.rmSync(segmentPath(spool, removed))
    proxy.open()
    acked.push(...await post(collector.url, 'gone', 40, 50))
    const kept = new Set(acked.filter((id) => !lost.has(id)))
    expect(await untilLoaded(db.sql, kept, 'gone')).toEqual({ acked: kept.size, loaded: kept.size, lost: 0, duplicated: 0 })
    expect((await tally(db.sql, lost, 'gone')).lost).toBe(lost.size)
    const ready = (await (await fetch(`${collector.url}/ready`)).json()) as { spool: { corrupt_records: number; backlog_events: number } }
    expect(ready.spool).toMatchObject({ corrupt_records: 1, backlog_events: 0 })
    expect(collector.output()).toContain(`"msg":"${GONE}","segment":${removed},"offset":0,"bytes":0}`)
  } finally {
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
    proxy.close()
  }
}, 90_000)

// Appends went on to the unlinked file, were answered 202 and were gone at the next start.
test('the active segment deleted while the collector runs (rm of the newest spool file): it is written again, and after a SIGKILL every acknowledged message loads once', async () => {
  const dataDir = tempDir('deleted-active')
  dirs.push(dataDir)
  const spool = path.join(dataDir, 'spool')
  const { proxy, url } = downDatabase(db)
  const env = { DATA_DIR: dataDir, DATABASE_URL: url }
  const first = await spawnCollector(env)
  const acked = await post(first.url, 'active', 0, 10)
  const newest = listSegments(spool).at(-1) as number
  fs.rmSync(segmentPath(spool, newest))
  // No webhook comes: the watchdog finds it within a second.
  await eventually(() => fs.existsSync(segmentPath(spool, newest)), 5000, 'the active segment written again')
  // Then a webhook comes first: its group commit writes it again before the 202.
  fs.rmSync(segmentPath(spool, newest))
  acked.push(...await post(first.url, 'active', 10, 20))
  first.proc.kill('SIGKILL')
  await first.proc.exited
  expect(first.output()).toContain('"msg":"the spool\'s active segment was deleted outside the collector: written again from the open file, nothing acknowledged is lost"')
  proxy.open()
  const again = await spawnCollector(env)
  try {
    expect(await untilLoaded(db.sql, new Set(acked), 'active')).toEqual({ acked: 20, loaded: 20, lost: 0, duplicated: 0 })
  } finally {
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
    proxy.close()
  }
}, 90_000)

// Removed to free disk, say, while the collector was stopped: the restart started at the first
// segment left without a word, as if the collector had let them go itself.
test('the oldest segments removed while the collector is stopped (the checkpoint\'s own among them): the restart says what is lost, counts it, and loads the rest once', async () => {
  const dataDir = tempDir('removed-oldest')
  dirs.push(dataDir)
  const spool = path.join(dataDir, 'spool')
  const env = { DATA_DIR: dataDir, SPOOL_SEGMENT_BYTES: '8192' }
  const loading = await spawnCollector({ ...env, DATABASE_URL: db.url })
  const loaded = await post(loading.url, 'oldest', 0, 10)
  await untilLoaded(db.sql, new Set(loaded), 'oldest')
  loading.proc.kill('SIGTERM')
  expect(await loading.proc.exited).toBe(0)
  const checkpoint = readCheckpoint(spool)
  expect(listSegments(spool)[0]).toBe(checkpoint.segment)

  const { proxy, url } = downDatabase(db)
  const down = await spawnCollector({ ...env, DATABASE_URL: url })
  const waiting = await post(down.url, 'oldest', 10, 60)
  down.proc.kill('SIGTERM')
  expect(await down.proc.exited).toBe(0)
  const [own, next] = listSegments(spool) as [number, number]
  // A stop after everything loaded: the checkpoint is at the end of its segment, nothing there is lost.
  expect([own, fs.statSync(segmentPath(spool, own)).size]).toEqual([checkpoint.segment, checkpoint.offset])
  const lost = new Set<string>()
  for (const seq of [own, next]) {
    for (const id of waiting) if (fs.readFileSync(segmentPath(spool, seq)).includes(`"id":"${id}"`)) lost.add(id)
    fs.rmSync(segmentPath(spool, seq))
  }
  expect(lost.size).toBeGreaterThan(0)

  proxy.open()
  const again = await spawnCollector({ ...env, DATABASE_URL: url })
  try {
    const kept = new Set([...loaded, ...waiting].filter((id) => !lost.has(id)))
    expect(await untilLoaded(db.sql, kept, 'oldest')).toEqual({ acked: kept.size, loaded: kept.size, lost: 0, duplicated: 0 })
    expect((await tally(db.sql, lost, 'oldest')).lost).toBe(lost.size)
    expect(again.output().split('\n').filter((line) => line.includes(GONE)).map((line) => JSON.parse(line).segment)).toEqual([next])
    expect(again.output()).toContain(`"msg":"${GONE}","segment":${next},"offset":0,"bytes":0}`)
    const metrics = await (await fetch(`${again.url}/metrics`)).text()
    expect(metrics).toContain('collector_spool_corrupt_records_total 1\n')
  } finally {
    again.proc.kill('SIGTERM')
    expect(await again.proc.exited).toBe(0)
    proxy.close()
  }
}, 90_000)

// A gap stays in the spool until loading passes the segment before it: each start with the
// database down logged it again and counted it again (CollectorCorruptSpoolRecords each time).
test('a segment removed while the collector is stopped, then starts with the database down: reported at the first start only, and the rest loads once', async () => {
  const dataDir = tempDir('removed-gap')
  dirs.push(dataDir)
  const spool = path.join(dataDir, 'spool')
  const { proxy, url } = downDatabase(db)
  const env = { DATA_DIR: dataDir, SPOOL_SEGMENT_BYTES: '8192', DATABASE_URL: url }
  const first = await spawnCollector(env)
  const acked = await post(first.url, 'gap', 0, 60)
  first.proc.kill('SIGTERM')
  expect(await first.proc.exited).toBe(0)
  const [, middle] = listSegments(spool) as [number, number]
  const lost = new Set(acked.filter((id) => fs.readFileSync(segmentPath(spool, middle)).includes(`"id":"${id}"`)))
  expect(lost.size).toBeGreaterThan(0)
  fs.rmSync(segmentPath(spool, middle))

  const reports: { lines: number[]; counted: string | undefined }[] = []
  for (let start = 0; start < 3; start++) {
    if (start === 2) proxy.open()
    const collector = await spawnCollector(env)
    try {
      const metrics = await (await fetch(`${collector.url}/metrics`)).text()
      reports.push({ lines: collector.output().split('\n').filter((line) => line.includes(GONE)).map((line) => JSON.parse(line).segment), counted: /^collector_spool_corrupt_records_total (\S+)$/m.exec(metrics)?.[1] })
      if (start === 2) {
        const kept = new Set(acked.filter((id) => !lost.has(id)))
        expect(await untilLoaded(db.sql, kept, 'gap')).toEqual({ acked: kept.size, loaded: kept.size, lost: 0, duplicated: 0 })
      }
    } finally {
      collector.proc.kill('SIGTERM')
      expect(await collector.proc.exited).toBe(0)
    }
  }
  proxy.close()
  expect(reports).toEqual([{ lines: [middle], counted: '1' }, { lines: [], counted: '0' }, { lines: [], counted: '0' }])
  // Loading passed it: no longer shown (its record goes at the next start).
  const status = Bun.spawnSync([BUN, path.join(ROOT, 'src/main.ts'), 'spool', 'status'], { env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir } })
  expect(status.stdout.toString()).toContain('records gone               none\n')
}, 120_000)
