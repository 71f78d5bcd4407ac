import { expect, test } from 'bun:test'
import type { Sink } from '../../src/sink/batch.ts'
import { createStallWatch, guardStalls, type Stall } from '../../src/db/stall-watch.ts'

/** A sink whose calls settle when the test says. */
function heldSink() {
  const pending: (() => void)[] = []
  const held = () => new Promise<void>((resolve) => { pending.push(resolve) })
  const sink: Sink = {
    dialect: 'postgres',
    write: async () => { await held(); return { loaded: 0, duplicates: 0, badRows: 0 } },
    prepare: held,
    ping: held,
  }
  return { sink, answerOldest: async () => { pending.shift()?.(); await Bun.sleep(0) } }
}

test('the wait is the oldest unanswered call\'s (a write, a probe, the table check), 0 when none waits', async () => {
  let now = 1000
  const watch = createStallWatch(() => now)
  const { sink, answerOldest } = heldSink()
  const watched = watch.watch(sink)
  expect(watch.waitingMs()).toBe(0)
  void watched.prepare?.()
  now += 400
  void watched.write({ events: [], badRows: [] })
  now += 600
  void watched.ping?.()
  expect(watch.waitingMs()).toBe(1000)
  await answerOldest()
  expect(watch.waitingMs()).toBe(600)
  await answerOldest()
  await answerOldest()
  expect(watch.waitingMs()).toBe(0)
})

test('a failed call waits no more either', async () => {
  const watch = createStallWatch()
  const watched = watch.watch({ dialect: 'postgres', write: () => Promise.reject(new Error('refused')) })
  await expect(watched.write({ events: [], badRows: [] })).rejects.toThrow('refused')
  expect(watch.waitingMs()).toBe(0)
})

test('the guard acts once the wait reaches the limit, not under it, and not again while it acts; told PGlite is wedged, at once', async () => {
  let now = 0
  const watch = createStallWatch(() => now)
  const { sink, answerOldest } = heldSink()
  const stalls: Stall[] = []
  let finish: () => void = () => {}
  const guard = guardStalls(watch, 3000, (stall) => { stalls.push(stall); return new Promise<void>((resolve) => { finish = resolve }) }, 60_000)
  try {
    void watch.watch(sink).write({ events: [], badRows: [] })
    now = 2999
    guard.check()
    expect(stalls).toEqual([])
    now = 3000
    guard.check()
    now = 9000
    guard.check()
    guard.wedged()
    expect(stalls).toEqual([{ waitedMs: 3000, wedged: false }])
    finish()
    await answerOldest()
    guard.check()
    expect(stalls).toHaveLength(1)
    guard.wedged()
    expect(stalls).toEqual([{ waitedMs: 3000, wedged: false }, { waitedMs: 0, wedged: true }])
  } finally {
    guard.stop()
  }
})
