/** The PagerDuty fixtures copied from shared/fixtures (real payloads, one file each). */
import fs from 'node:fs'
import path from 'node:path'

export const FIXTURES = path.join(import.meta.dir, '..', 'fixtures', 'pagerduty')

export function fixtureFiles(version: 'v1' | 'v2' | 'v3'): string[] {
  return fs.readdirSync(path.join(FIXTURES, version)).filter((f) => f.endsWith('.json')).sort()
}

export const readFixture = (version: string, file: string): string => fs.readFileSync(path.join(FIXTURES, version, file), 'utf8')
export const fixtureJson = (version: string, file: string): unknown => JSON.parse(readFixture(version, file))
