/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats). Hand
 * written rather than prom-client: the collector needs a dozen series, and a dependency with
 * its own default collectors would cost more binary and start-up than it saves.
 * Increments are a Map lookup keyed by the joined label values, cheap on the request path.
 */
import { formatSample, helpLine, typeLine } from './exposition.ts'

export type Labels = Record<string, string>

export interface Counter {
  inc(labels?: Labels, by?: number): void
}
export interface Gauge {
  set(value: number, labels?: Labels): void
}
export interface Histogram {
  observe(value: number, labels?: Labels): void
}

interface Spec { name: string; help: string; labelNames?: readonly string[] }

/** A value read at scrape time (spool size, database state): no bookkeeping on the hot path. */
export type Collect = () => number | readonly { labels: Labels; value: number }[]

export interface Registry {
  counter(spec: Spec & { collect?: Collect }): Counter
  gauge(spec: Spec & { collect?: Collect }): Gauge
  histogram(spec: Spec & { buckets: readonly number[] }): Histogram
  text(): string
}

interface Family { render(out: string[]): void }

/** The series key: label values in label-name order. Runs on every request (a loop, not map/join). */
function keyOf(labelNames: readonly string[], labels: Labels | undefined): string {
  if (labelNames.length === 0) return ''
  let key = labels?.[labelNames[0] as string] ?? ''
  for (let i = 1; i < labelNames.length; i++) key += `\u0001${labels?.[labelNames[i] as string] ?? ''}`
  return key
}

const labelsOf = (labelNames: readonly string[], key: string): Labels => {
  if (labelNames.length === 0) return {}
  const values = key.split('\u0001')
  return Object.fromEntries(labelNames.map((n, i) => [n, values[i] ?? '']))
}

function scalar(kind: 'counter' | 'gauge', spec: Spec & { collect?: Collect }) {
  const labelNames = spec.labelNames ?? []
  const values = new Map<string, number>()
  const family: Family = {
    render(out) {
      out.push(helpLine(spec.name, spec.help), typeLine(spec.name, kind))
      if (spec.collect) {
        const collected = spec.collect()
        if (typeof collected === 'number') out.push(formatSample(spec.name, {}, collected))
        else for (const { labels, value } of collected) out.push(formatSample(spec.name, labels, value))
        return
      }
      if (values.size === 0 && labelNames.length === 0) out.push(formatSample(spec.name, {}, 0))
      for (const [key, value] of values) out.push(formatSample(spec.name, labelsOf(labelNames, key), value))
    },
  }
  const add = (labels: Labels | undefined, by: number) => {
    const key = keyOf(labelNames, labels)
    values.set(key, (values.get(key) ?? 0) + by)
  }
  const set = (value: number, labels?: Labels) => { values.set(keyOf(labelNames, labels), value) }
  return { family, add, set }
}

function histogramFamily(spec: Spec & { buckets: readonly number[] }) {
  const labelNames = spec.labelNames ?? []
  const bounds = [...spec.buckets].sort((a, b) => a - b)
  const series = new Map<string, { counts: number[]; sum: number; count: number }>()
  const family: Family = {
    render(out) {
      out.push(helpLine(spec.name, spec.help), typeLine(spec.name, 'histogram'))
      const all = series.size === 0 && labelNames.length === 0 ? [['', { counts: bounds.map(() => 0), sum: 0, count: 0 }] as const] : [...series]
      for (const [key, s] of all) {
        const labels = labelsOf(labelNames, key)
        // Exposed buckets are cumulative: each counts observations <= its upper bound.
        let cumulative = 0
        bounds.forEach((le, i) => {
          cumulative += s.counts[i] as number
          out.push(formatSample(`${spec.name}_bucket`, { ...labels, le: String(le) }, cumulative))
        })
        out.push(formatSample(`${spec.name}_bucket`, { ...labels, le: '+Inf' }, s.count))
        out.push(formatSample(`${spec.name}_sum`, labels, s.sum))
        out.push(formatSample(`${spec.name}_count`, labels, s.count))
      }
    },
  }
  const observe = (value: number, labels?: Labels) => {
    const key = keyOf(labelNames, labels)
    let s = series.get(key)
    if (!s) series.set(key, (s = { counts: bounds.map(() => 0), sum: 0, count: 0 }))
    const i = bounds.findIndex((le) => value <= le)
    if (i !== -1) s.counts[i] = (s.counts[i] as number) + 1
    s.sum += value
    s.count++
  }
  return { family, observe }
}

export function createRegistry(): Registry {
  const families: Family[] = []
  const names = new Set<string>()
  const register = (name: string, family: Family) => {
    if (names.has(name)) throw new Error(`metric ${name} registered twice`)
    names.add(name)
    families.push(family)
  }
  return {
    counter(spec) {
      const s = scalar('counter', spec)
      register(spec.name, s.family)
      return { inc: (labels, by = 1) => s.add(labels, by) }
    },
    gauge(spec) {
      const s = scalar('gauge', spec)
      register(spec.name, s.family)
      return { set: s.set }
    },
    histogram(spec) {
      const h = histogramFamily(spec)
      register(spec.name, h.family)
      return { observe: h.observe }
    },
    text() {
      const out: string[] = []
      for (const family of families) family.render(out)
      return `${out.join('\n')}\n`
    },
  }
}
