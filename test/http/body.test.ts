/**
 * The depth check before JSON.parse: on valid JSON it must agree with the depth of the parsed
 * value exactly, whatever the strings hold (brackets, quotes, runs of backslashes).
 */
import { describe, expect, test } from 'bun:test'
import { jsonTooDeep } from '../../src/http/body.ts'

/** Depth of a parsed value: a scalar is 0, `[]` and `{}` are 1. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + children.reduce((max: number, v) => Math.max(max, depthOf(v)), 0)
}

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TRICKY = ['[', ']', '{', '}', '"', '\\', '\\"', '\\\\', '\\\\"', '"]', '\\[', 'é', '\u2028', 'x']

function randomString(next: () => number): string {
  let s = ''
  const n = Math.floor(next() * 6)
  for (let i = 0; i < n; i++) s += TRICKY[Math.floor(next() * TRICKY.length)]
  return s
}

function randomValue(next: () => number, depth: number): unknown {
  const r = next()
  if (depth <= 0 || r < 0.3) return r < 0.15 ? randomString(next) : r < 0.2 ? null : Math.floor(r * 1000)
  const n = Math.floor(next() * 4)
  if (r < 0.65) return Array.from({ length: n }, () => randomValue(next, depth - 1))
  return Object.fromEntries(Array.from({ length: n }, () => [randomString(next), randomValue(next, depth - 1)]))
}

describe('jsonTooDeep', () => {
  test('agrees with the parsed depth on generated JSON whose strings hold brackets, quotes and backslashes', () => {
    const next = random(20261201)
    let checked = 0
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(next, 1 + Math.floor(next() * 9))
      const text = JSON.stringify(value, null, next() < 0.5 ? 0 : 1)
      const depth = depthOf(value)
      for (const limit of [depth - 1, depth, depth + 1].filter((l) => l >= 0)) {
        expect({ text, limit, tooDeep: jsonTooDeep(text, limit) }).toEqual({ text, limit, tooDeep: depth > limit })
        checked++
      }
    }
    expect(checked).toBeGreaterThan(6000)
  })

  test('a string that only looks like nesting does not count; an even run of backslashes closes it', () => {
    expect(jsonTooDeep(`["${'['.repeat(100)}"]`, 1)).toBe(false)
    expect(jsonTooDeep(`["\\\\", ${'['.repeat(3)}${']'.repeat(3)}]`, 3)).toBe(true)
    expect(jsonTooDeep(`["\\\\\\"[[[", [[]]]`, 3)).toBe(false)
    expect(jsonTooDeep(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toBe(true)
    expect(jsonTooDeep(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).toBe(false)
  })

  test('an unterminated string ends the scan without an error (JSON.parse refuses the text next)', () => {
    expect(jsonTooDeep('[[["abc', 64)).toBe(false)
    expect(jsonTooDeep('["abc\\"', 64)).toBe(false)
  })
})
