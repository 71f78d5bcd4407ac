/**
 * deploy/collector.rules.yml: every series and label its alerts use is one a running
 * collector exposes (a renamed metric would leave an alert that can never fire), and, when
 * promtool is on the machine (.ci/run fetches it), Prometheus's own tool checks the rules,
 * runs their unit tests (test/deploy/collector.rules.test.yml) and lints the exposition.
 * deploy/grafana-dashboard.json: the same for its panels' queries.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Collector } from '../../src/app.ts'
import { ROOT, postJson, startInProcess } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { readFixture } from '../helpers/fixtures.ts'
import { parsePrometheusText, type MetricFamily } from '../helpers/prometheus.ts'

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const RULES_FILE = path.join(ROOT, 'deploy/collector.rules.yml')
const rules = ((Bun.YAML.parse(fs.readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups).flatMap((g) => g.rules)
const promtool = process.env.PROMTOOL || Bun.which('promtool')

let collector: Collector
let dir: string
let exposition: string
let families: Map<string, MetricFamily>
beforeAll(async () => {
  dir = tempDir('alerts')
  // No database needed: the series exist from the start, the database ones at zero.
  collector = await startInProcess({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable', DATA_DIR: dir, PAGERDUTY_WEBHOOK_SECRETS: 'whsec' })
  const webhooks = new URL('/com.pagerduty/v1', collector.url).href
  expect((await postJson(webhooks, readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json'))).status).toBe(202)
  // An unsigned v3 delivery where secrets are set: the labelled auth failure series appears.
  expect((await postJson(webhooks, readFixture('v3', 'incident.annotated__zulip-fixture.json'))).status).toBe(401)
  exposition = await (await fetch(new URL('/metrics', collector.url))).text()
  families = parsePrometheusText(exposition)
})
afterAll(async () => {
  await collector?.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Sample names as /metrics shows them: a histogram's _bucket, _sum and _count included. */
const exposed = () => new Set([...families.values()].flatMap((f) => f.samples.map((s) => s.name)))

describe('deploy/collector.rules.yml', () => {
  test('every alert pages or opens a ticket, and says what happened and what to do', () => {
    expect(rules.length).toBeGreaterThanOrEqual(10)
    for (const rule of rules) {
      expect([rule.alert, ['page', 'ticket'].includes(rule.labels?.severity ?? '')]).toEqual([rule.alert, true])
      expect([rule.alert, (rule.annotations?.summary ?? '').length > 20, (rule.annotations?.description ?? '').length > 40]).toEqual([rule.alert, true, true])
    }
  })

  test('every series an alert reads is one the collector exposes (up is the scrape\'s own)', () => {
    const names = exposed()
    for (const rule of rules) {
      const used = [...rule.expr.matchAll(/\b(?:collector|process)_[a-z0-9_]+\b/g)].map((m) => m[0])
      expect([rule.alert, used.filter((n) => !names.has(n))]).toEqual([rule.alert, []])
      if (used.length === 0) expect(rule.expr).toContain('up{job="pagerduty-collector"}')
    }
  })

  test('the labels alerts match on are the ones the series carry, with the values the collector gives them', () => {
    const requests = families.get('collector_http_requests_total')
    const webhook = requests?.samples.find((s) => s.labels.status === '202')
    expect(webhook?.labels.route).toBe('/com.pagerduty/v1')
    const refusing = rules.find((r) => r.alert === 'CollectorRefusingWebhooks') as Rule
    const route = /route=~"((?:[^"\\]|\\.)*)"/.exec(refusing.expr)?.[1] as string
    // PromQL regexes are anchored; `\\.` in the rule is PromQL's string escape for `\.`.
    const matcher = new RegExp(`^(?:${route.replace(/\\\\/g, '\\')})$`)
    expect(matcher.test(webhook?.labels.route ?? '')).toBe(true)
    expect(matcher.test('/ready')).toBe(false)
    expect(families.get('collector_auth_failures_total')?.samples.length ?? 0).toBeGreaterThan(0)
    expect(Object.keys(families.get('collector_auth_failures_total')?.samples[0]?.labels ?? {})).toEqual(['kind'])
    expect(families.get('collector_spool_max_bytes')?.samples[0]?.value).toBe(10 * 1024 ** 3)
  })

  test.skipIf(!promtool)('promtool checks the rules and passes their unit tests', () => {
    const check = Bun.spawnSync([promtool as string, 'check', 'rules', RULES_FILE], { stdout: 'pipe', stderr: 'pipe' })
    expect([check.exitCode, check.stderr.toString()]).toEqual([0, ''])
    expect(check.stdout.toString()).toContain(`SUCCESS: ${rules.length} rules found`)
    const unit = Bun.spawnSync([promtool as string, 'test', 'rules', path.join(ROOT, 'test/deploy/collector.rules.test.yml')], { stdout: 'pipe', stderr: 'pipe' })
    expect([unit.exitCode, `${unit.stdout}${unit.stderr}`]).toEqual([0, expect.stringContaining('SUCCESS')])
  })

  test.skipIf(!promtool)('promtool lints the exposition: no problem found', () => {
    const lint = Bun.spawnSync([promtool as string, 'check', 'metrics'], { stdin: Buffer.from(exposition), stdout: 'pipe', stderr: 'pipe' })
    expect([lint.exitCode, `${lint.stdout}${lint.stderr}`]).toEqual([0, ''])
  })
})

interface DashboardPanel { type: string; title: string; description?: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { uid: string }; targets?: { expr: string; refId: string }[] }
const DASHBOARD_FILE = path.join(ROOT, 'deploy/grafana-dashboard.json')
const dashboard = JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as { uid: string; title: string; panels: DashboardPanel[]; templating: { list: { name: string }[] } }
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))
/** A panel's query as Prometheus sees it once Grafana has filled in its variables. */
const asPrometheus = (expr: string) => expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '5m')

describe('deploy/grafana-dashboard.json', () => {
  test('every panel is described, reads the dashboard\'s Prometheus, and none overlaps another', () => {
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance'])
    const cells = new Set<string>()
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos
      expect([panel.title, x >= 0 && x + w <= 24]).toEqual([panel.title, true])
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect([panel.title, cells.has(`${i},${j}`)]).toEqual([panel.title, false])
        cells.add(`${i},${j}`)
      }
      if (panel.type === 'row') continue
      expect([panel.title, (panel.description ?? '').length > 30, panel.datasource?.uid, (panel.targets ?? []).length > 0]).toEqual([panel.title, true, '${datasource}', true])
    }
    expect(queries.length).toBeGreaterThanOrEqual(25)
  })

  test('every series a panel reads is one the collector exposes, on the instances chosen', () => {
    // With its family (# TYPE) too: a labelled counter has no sample before its first event
    // (nothing loads here, the database being unreachable).
    const names = new Set([...exposed(), ...families.keys()])
    for (const { panel, expr } of queries) {
      const used = [...expr.matchAll(/\b(?:collector|process)_[a-z0-9_]+\b/g)].map((m) => m[0])
      expect([panel, used.length > 0, used.filter((n) => !names.has(n))]).toEqual([panel, true, []])
      // Each selector narrows to the instances picked at the top of the dashboard.
      const selectors = [...expr.matchAll(/\b(?:collector|process)_[a-z0-9_]+\{([^}]*)\}/g)].map((m) => m[1] as string)
      expect([panel, selectors.length, selectors.filter((s) => !s.includes('instance=~"$instance"'))]).toEqual([panel, used.length, []])
    }
  })

  test.skipIf(!promtool)('promtool parses every panel\'s query', () => {
    // As recording rules: promtool checks their PromQL as Prometheus would run it.
    const rules = { groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPrometheus(q.expr) })) }] }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-'))
    try {
      const file = path.join(dir, 'queries.yml')
      fs.writeFileSync(file, JSON.stringify(rules)) // JSON is YAML
      const check = Bun.spawnSync([promtool as string, 'check', 'rules', file], { stdout: 'pipe', stderr: 'pipe' })
      expect([check.exitCode, check.stderr.toString()]).toEqual([0, ''])
      expect(check.stdout.toString()).toContain(`SUCCESS: ${queries.length} rules found`)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
