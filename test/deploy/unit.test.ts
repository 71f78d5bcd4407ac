/**
 * deploy/: the systemd unit verifies with systemd-analyze (when the machine has it), holds
 * the hardening the operating guide promises, gives shutdown time to drain, and the example
 * environment file is a configuration the collector accepts.
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { STOP_GRACE_MS } from '../../src/sink/writer.ts'
import { ROOT } from '../helpers/collector.ts'

const unit = fs.readFileSync(path.join(ROOT, 'deploy/collector.service'), 'utf8')
const directives = new Map<string, string[]>()
for (const line of unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l))) {
  const key = line.slice(0, line.indexOf('='))
  directives.set(key, [...(directives.get(key) ?? []), line.slice(line.indexOf('=') + 1)])
}
const envFile = fs.readFileSync(path.join(ROOT, 'deploy/collector.env'), 'utf8')
const env = Object.fromEntries(envFile.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))

describe('deploy/collector.service', () => {
  test.skipIf(!Bun.which('systemd-analyze'))('systemd-analyze verify passes', () => {
    const run = Bun.spawnSync(['bash', path.join(ROOT, 'scripts/verify-unit.sh')], { stdout: 'pipe', stderr: 'pipe' })
    expect(run.stderr.toString()).toBe('')
    expect(run.exitCode).toBe(0)
  })

  test.each([
    ['DynamicUser', 'yes'], ['StateDirectory', 'collector'], ['Environment', 'DATA_DIR=%S/collector'], ['ProtectSystem', 'strict'],
    ['NoNewPrivileges', 'yes'], ['Restart', 'on-failure'], ['RestartPreventExitStatus', '2'], ['RestartForceExitStatus', 'SIGHUP'], ['LimitNOFILE', '65536'],
    ['ExecStart', '/usr/local/bin/collector serve'], ['EnvironmentFile', '/etc/collector.env'],
    ['Environment', 'BUN_JSC_forceRAMSize=1073741824'],
  ])('sets %s=%s', (key, value) => {
    expect(directives.get(key)).toContain(value)
  })

  test('TimeoutStopSec leaves room for the request grace (10 s), the default drain and closing the pool (+1 s), and stopping the embedded database (10 s)', () => {
    const loaded = loadConfig({}, [])
    if (!loaded.ok) throw new Error('defaults do not load')
    expect(Number(directives.get('TimeoutStopSec')?.[0]) * 1000).toBeGreaterThan(10_000 + loaded.config.shutdownDrainMs + STOP_GRACE_MS + 10_000)
  })
})

describe('deploy/collector.env', () => {
  test('is a configuration the collector accepts, with DATA_DIR from the unit', () => {
    const loaded = loadConfig({ ...env, DATA_DIR: '/var/lib/collector' }, ['serve'])
    expect(loaded.ok ? null : loaded.issues).toBeNull()
    if (loaded.ok) expect([loaded.config.host, loaded.config.port, loaded.config.dialect]).toEqual(['127.0.0.1', 8080, 'postgres'])
  })

  test('each commented-out example is accepted too, when uncommented', () => {
    const examples = [...envFile.matchAll(/^#([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] as string, m[2] as string] as const)
    expect(examples.length).toBeGreaterThan(5)
    // PAGERDUTY_SIGNED_ONLY needs the secrets above it (alone it is refused, exit 2).
    const needs: Record<string, string[]> = { PAGERDUTY_SIGNED_ONLY: ['PAGERDUTY_WEBHOOK_SECRETS'] }
    const all = Object.fromEntries(examples)
    for (const [key, value] of examples) {
      const with_ = Object.fromEntries((needs[key] ?? []).map((k) => [k, all[k] as string]))
      const loaded = loadConfig({ ...env, DATA_DIR: '/var/lib/collector', ...with_, [key]: value }, ['serve'])
      expect([key, loaded.ok ? null : loaded.issues]).toEqual([key, null])
    }
  })
})
