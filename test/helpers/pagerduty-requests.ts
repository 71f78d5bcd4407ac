/**
 * Turns every fixture file into the HTTP request PagerDuty sent: plain bodies as they are,
 * `.request.json` captures as their exact raw body plus the headers that matter (never the
 * capture's content-length or host), the go-pagerduty `.raw.json` byte for byte, and the
 * docs' `event.data` reference file as one envelope per GA v3 type (the only sample of the
 * types no public capture shows).
 */
import fs from 'node:fs'
import path from 'node:path'
import { V3_TYPES } from '../../src/adapters/pagerduty/v3-schema.ts'
import { FIXTURES, fixtureFiles, readFixture } from './fixtures.ts'

export interface FixtureRequest { name: string; body: string; headers: Record<string, string> }

const KEPT_HEADERS = ['user-agent', 'x-webhook-id']

function keptHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of KEPT_HEADERS) if (headers?.[name] !== undefined) out[name] = headers[name] as string
  return out
}

export const REFERENCE_FILE = 'event_data_types__pagerduty-developer-docs.reference.json'

/** One synthetic v3 delivery per GA type, its `data` the docs' example for that type's shape. */
export function docsDataTypeRequests(): FixtureRequest[] {
  const examples = JSON.parse(readFixture('v3', REFERENCE_FILE)) as Record<string, unknown>
  return Object.entries(V3_TYPES).map(([eventType, dataType]) => ({
    name: `${REFERENCE_FILE}#${eventType}`,
    headers: {},
    body: JSON.stringify({
      event: {
        id: `docs-example-${eventType}`,
        event_type: eventType,
        resource_type: eventType.split('.')[0],
        occurred_at: '2020-10-02T18:45:22.169Z',
        agent: null,
        client: null,
        data: examples[dataType],
      },
    }),
  }))
}

/** Every fixture of a version as requests (the reference file expanded, `.meta.txt` skipped). */
export function fixtureRequests(version: 'v1' | 'v2' | 'v3'): FixtureRequest[] {
  return fixtureFiles(version).flatMap((file): FixtureRequest[] => {
    if (file === REFERENCE_FILE) return docsDataTypeRequests()
    const text = readFixture(version, file)
    if (!file.endsWith('.request.json')) return [{ name: file, body: text, headers: {} }]
    const capture = JSON.parse(text) as { raw_body?: string; body?: unknown; headers?: Record<string, string> }
    return [{ name: file, body: capture.raw_body ?? JSON.stringify(capture.body), headers: keptHeaders(capture.headers) }]
  })
}

/** The go-pagerduty signature test vector: exact body bytes, secret, valid and wrong signatures. */
export function signatureVector(): { body: string; secret: string; valid: string; mismatch: string } {
  const base = path.join(FIXTURES, 'v3', 'incident.priority_updated__go-pagerduty-signature-testvector')
  const meta = fs.readFileSync(`${base}.meta.txt`, 'utf8')
  const line = (label: string): string => {
    const m = new RegExp(`^${label.replace(/[()]/g, '\\$&')}: (.+)$`, 'm').exec(meta)
    if (!m) throw new Error(`${label} missing from the test vector's meta file`)
    return (m[1] as string).trim()
  }
  return {
    body: fs.readFileSync(`${base}.raw.json`, 'utf8'),
    secret: line('secret'),
    valid: line('X-PagerDuty-Signature (valid)'),
    mismatch: line('X-PagerDuty-Signature (mismatch example)'),
  }
}
