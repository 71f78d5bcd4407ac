import { describe, expect, test } from 'bun:test'
import { createRegistry } from '../../src/metrics/index.ts'
import { formatValue } from '../../src/metrics/exposition.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'

describe('the metrics registry', () => {
  test('a counter with labels renders one series per label set, summed', () => {
    const r = createRegistry()
    const c = r.counter({ name: 'x_total', help: 'X.', labelNames: ['route', 'status'] })
    c.inc({ route: '/a', status: '202' })
    c.inc({ route: '/a', status: '202' }, 3)
    c.inc({ route: '/b', status: '400' })
    expect(r.text()).toBe('# HELP x_total X.\n# TYPE x_total counter\nx_total{route="/a",status="202"} 4\nx_total{route="/b",status="400"} 1\n')
  })

  test('a counter without labels shows 0 before its first increment', () => {
    const r = createRegistry()
    r.counter({ name: 'y_total', help: 'Y.' })
    expect(r.text()).toBe('# HELP y_total Y.\n# TYPE y_total counter\ny_total 0\n')
  })

  test('label values and help text are escaped so the parser reads them back unchanged', () => {
    const r = createRegistry()
    const g = r.gauge({ name: 'g', help: 'back\\slash and\nnewline', labelNames: ['v'] })
    g.set(1.5, { v: 'quote " backslash \\ newline \n end' })
    const parsed = parsePrometheusText(r.text())
    expect(parsed.get('g')?.help).toBe('back\\slash and\nnewline')
    expect(parsed.get('g')?.samples).toEqual([{ name: 'g', labels: { v: 'quote " backslash \\ newline \n end' }, value: 1.5 }])
  })

  test('a gauge with a collect function is read at scrape time', () => {
    const r = createRegistry()
    let depth = 7
    r.gauge({ name: 'depth', help: 'D.', collect: () => depth })
    expect(sampleValue(parsePrometheusText(r.text()), 'depth')).toBe(7)
    depth = 9
    expect(sampleValue(parsePrometheusText(r.text()), 'depth')).toBe(9)
  })

  test('a histogram exposes cumulative buckets, +Inf equal to the count, and the sum', () => {
    const r = createRegistry()
    const h = r.histogram({ name: 'lat_seconds', help: 'L.', buckets: [0.01, 0.1, 1] })
    for (const v of [0.005, 0.01, 0.05, 0.5, 3]) h.observe(v)
    const parsed = parsePrometheusText(r.text())
    expect(parsed.get('lat_seconds')?.samples.map((s) => [s.name, s.labels.le ?? null, s.value])).toEqual([
      ['lat_seconds_bucket', '0.01', 2],
      ['lat_seconds_bucket', '0.1', 3],
      ['lat_seconds_bucket', '1', 4],
      ['lat_seconds_bucket', '+Inf', 5],
      ['lat_seconds_sum', null, 3.565],
      ['lat_seconds_count', null, 5],
    ])
  })

  test('registering the same name twice is a programming error', () => {
    const r = createRegistry()
    r.counter({ name: 'dup_total', help: 'D.' })
    expect(() => r.gauge({ name: 'dup_total', help: 'D.' })).toThrow('metric dup_total registered twice')
  })

  test.each([[1, '1'], [0.25, '0.25'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [NaN, 'NaN']])('the value %p is written as %p', (value, text) => {
    expect(formatValue(value)).toBe(text)
  })
})

describe('the test parser', () => {
  test.each([
    ['a sample without a trailing newline', 'a 1', 'exposition must end with a newline'],
    ['an unknown escape in a label value', 'a{x="\\t"} 1\n', 'bad escape'],
    ['a value that is not a number', 'a one\n', 'bad value'],
    ['the same series twice', 'a 1\na 2\n', 'duplicate series'],
    ['a histogram whose +Inf bucket differs from its count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', '+Inf bucket must equal _count'],
    ['buckets that decrease', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n', 'buckets not cumulative'],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(message)
  })
})
