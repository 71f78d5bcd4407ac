/**
 * A strict parser for the Prometheus text format 0.0.4, written from the spec
 * (prometheus.io/docs/instrumenting/exposition_formats) to check /metrics: it throws on any
 * line Prometheus would refuse, and on histograms whose buckets are not cumulative.
 */
export interface Sample { name: string; labels: Record<string, string>; value: number }
export interface MetricFamily { name: string; type: string; help: string; samples: Sample[] }

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)} in: ${line}`)
  return Number(text)
}

/** Parses `{a="x",b="y"}` at the start of `rest`; returns the labels and what follows. */
function parseLabels(rest: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {}
  let i = 1
  for (;;) {
    if (rest[i] === '}') return { labels, rest: rest.slice(i + 1) }
    const name = LABEL_NAME.exec(rest.slice(i))?.[0]
    if (!name || rest[i + name.length] !== '=' || rest[i + name.length + 1] !== '"') throw new Error(`bad label in: ${line}`)
    if (name in labels) throw new Error(`label ${name} twice in: ${line}`)
    i += name.length + 2
    let value = ''
    for (;;) {
      const c = rest[i]
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`)
      if (c === '"') { i++; break }
      if (c === '\\') {
        const e = rest[i + 1]
        if (e === '\\') value += '\\'
        else if (e === '"') value += '"'
        else if (e === 'n') value += '\n'
        else throw new Error(`bad escape \\${e} in: ${line}`)
        i += 2
      } else { value += c; i++ }
    }
    labels[name] = value
    if (rest[i] === ',') i++
    else if (rest[i] !== '}') throw new Error(`expected , or } in: ${line}`)
  }
}

const familyOf = (sampleName: string, families: Map<string, MetricFamily>): string => {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sampleName.slice(0, -suffix.length)
    if (sampleName.endsWith(suffix) && families.get(base)?.type === 'histogram') return base
  }
  return sampleName
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, MetricFamily>()
  const seen = new Set<string>()
  let current: string | null = null
  const family = (name: string): MetricFamily => {
    let f = families.get(name)
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }))
    return f
  }
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.trim() === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string]
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)?.[0] !== name) throw new Error(`bad metric name in: ${line}`)
      const f = family(name)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`)
        if (f.samples.length > 0) throw new Error(`TYPE after samples in: ${line}`)
        f.type = rest
      } else f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      current = name
      continue
    }
    if (line.startsWith('#')) continue
    const name = METRIC_NAME.exec(line)?.[0]
    if (!name) throw new Error(`bad sample line: ${line}`)
    let rest = line.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line))
    const parts = rest.trim().split(/\s+/)
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`bad sample line: ${line}`)
    const base = familyOf(name, families)
    if (base !== current && families.get(base)?.samples.length) throw new Error(`samples of ${base} are not contiguous`)
    current = base
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`)
    seen.add(key)
    family(base).samples.push({ name, labels, value: parseValue(parts[0] as string, line) })
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, Sample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
    const count = samples.find((s) => s.name === `${f.name}_count`)
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`${f.name}: _sum or _count missing`)
    if (buckets.at(-1)?.labels.le !== '+Inf' || buckets.at(-1)?.value !== count.value) throw new Error(`${f.name}: +Inf bucket must equal _count`)
    for (let i = 1; i < buckets.length; i++) {
      const a = buckets[i - 1] as Sample
      const b = buckets[i] as Sample
      if (parseValue(b.labels.le as string, '') <= parseValue(a.labels.le as string, '') || b.value < a.value) throw new Error(`${f.name}: buckets not cumulative at le=${b.labels.le}`)
    }
  }
}

/** The value of one series, or undefined when it is absent. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length) return s.value
    }
  }
  return undefined
}
