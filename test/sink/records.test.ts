/**
 * Spool records hold a webhook as received; the writer builds its events again with the
 * same pure adapter, so they must be exactly what the HTTP edge built when it answered 202.
 */
import { describe, expect, test } from 'bun:test'
import { createPagerDutyAdapter } from '../../src/adapters/pagerduty/index.ts'
import { createRegistry, rebuildWith } from '../../src/adapters/registry.ts'
import type { RequestContext } from '../../src/events/event.ts'
import type { Batch } from '../../src/sink/batch.ts'
import { decodeRecord, encodeRequest, requestParts } from '../../src/sink/records.ts'
import { decodeFrame, encodeFrame } from '../../src/spool/frame.ts'
import { fixtureFiles, readFixture } from '../helpers/fixtures.ts'

const registry = createRegistry([createPagerDutyAdapter('test')])
const rebuild = rebuildWith(registry)
const ctx: RequestContext = {
  receivedAt: new Date('2026-11-26T12:34:56.789Z'), query: { aid: 'acme', p: 'srv' }, ipAddress: '203.0.113.9',
  userAgent: 'PagerDuty-Webhook/V3.0', webhookId: 'wh-42', requestId: '3f0a7c1e-2b4d-4e8f-9a6b-1c2d3e4f5a6b',
}
const position = { segment: 1, offset: 0 }
const decode = (text: string): Batch => {
  const batch: Batch = { events: [], badRows: [] }
  decodeRecord({ position, next: position, events: 0, payload: Buffer.from(text) }, batch, rebuild)
  return batch
}
const all = (['v1', 'v2', 'v3'] as const).flatMap((v) => fixtureFiles(v).filter((f) => !f.includes('.request.') && !f.includes('.reference.')).map((f) => [v, f] as const))

describe('a webhook stored as received', () => {
  test.each(all)('%s %s is rebuilt into exactly the events and bad rows the edge built', (version, file) => {
    const raw = readFixture(version, file)
    const accepted = registry.lookup('com.pagerduty', version)?.toEvents({ body: JSON.parse(raw), rawBody: raw, ctx })
    if (!accepted?.ok) throw new Error(`fixture not accepted: ${file}`)
    const text = encodeRequest({ vendor: 'com.pagerduty', version, ctx }, raw)
    expect(decode(text)).toEqual({ events: accepted.events, badRows: accepted.badRows })
  })

  test('a body whose credentials were replaced and whose bad messages are past the cap is rebuilt with the same bad-row id (a crash replay stores it once)', () => {
    const v2 = JSON.parse(readFixture('v2', fixtureFiles('v2')[0] as string)) as { messages: { webhook: { endpoint_url: string } }[] }
    const good = { ...v2.messages[0], webhook: { ...v2.messages[0]?.webhook, endpoint_url: 'https://user:secret@collector.example/com.pagerduty/v2' } }
    const body = { messages: [good, ...Array.from({ length: 101 }, () => ({ nope: 1 }))] }
    const raw = JSON.stringify(body, null, 1) // not JSON.stringify's own spacing: as a sender may format it
    const accepted = registry.lookup('com.pagerduty', 'v2')?.toEvents({ body, rawBody: raw, ctx })
    if (!accepted?.ok || accepted.storedBody === undefined) throw new Error('expected the credentials replaced')
    expect(accepted.badRows.map((r) => r.reason)).toEqual(['TOO_MANY_BAD_MESSAGES'])
    expect(accepted.badRows[0]?.payload).not.toContain('secret')
    expect(decode(encodeRequest({ vendor: 'com.pagerduty', version: 'v2', ctx }, accepted.storedBody))).toEqual({ events: accepted.events, badRows: accepted.badRows })
  })

  test('with its memo (appended by this process, still in memory) decodes to the memo: the rows the edge built, not rebuilt', () => {
    const raw = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')
    const accepted = registry.lookup('com.pagerduty', 'v1')?.toEvents({ body: JSON.parse(raw), rawBody: raw, ctx })
    if (!accepted?.ok) throw new Error('fixture not accepted')
    const memo = { events: accepted.events, badRows: accepted.badRows }
    const batch: Batch = { events: [], badRows: [] }
    decodeRecord({ position, next: position, events: 1, payload: new Uint8Array(0), memo }, batch, rebuild)
    expect(batch.events[0]).toBe(accepted.events[0] as never) // the same objects
    expect(batch).toEqual(decode(encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx }, raw)))
  })

  test('framed from the bytes received, it is the same record as from the text, a byte-order mark left out', () => {
    const raw = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json').replace('Production', 'Prödüction ☃')
    const request = { vendor: 'com.pagerduty', version: 'v1', ctx }
    const bytes = new TextEncoder().encode(raw)
    const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes])
    const fromText = encodeFrame(encodeRequest(request, raw), 1)
    for (const body of [bytes, withBom]) {
      const frame = encodeFrame(requestParts(request, body), 1)
      expect(Buffer.compare(frame, fromText)).toBe(0)
      const decoded = decodeFrame(frame, 0)
      if (decoded.kind !== 'record') throw new Error('frame does not decode')
      expect(decode(Buffer.from(decoded.payload).toString()).events.length).toBe(1)
    }
  })

  test('is the raw body behind one line of context: no second copy of the message', () => {
    const raw = readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json')
    const text = encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx }, raw)
    const newline = text.indexOf('\n')
    expect([text.charCodeAt(0), text.slice(newline + 1)]).toEqual([1, raw])
    expect(JSON.parse(text.slice(1, newline))).toEqual({
      vendor: 'com.pagerduty', version: 'v1',
      ctx: { query: { aid: 'acme', p: 'srv' }, ipAddress: '203.0.113.9', userAgent: 'PagerDuty-Webhook/V3.0', webhookId: 'wh-42', requestId: ctx.requestId, receivedAt: '2026-11-26T12:34:56.789Z' },
    })
  })

  test('that no longer builds (an adapter changed in an upgrade) keeps its raw body as a bad row', () => {
    const raw = '{"not":"pagerduty"}'
    const batch = decode(encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx }, raw))
    expect(batch.events).toEqual([])
    expect(batch.badRows.map((b) => [b.reason, b.payload, b.received_at, JSON.parse(b.detail)[0].message.split(':')[0]])).toEqual([
      ['REBUILD_FAILED', raw, '2026-11-26 12:34:56.789', 'NOT_PAGERDUTY'],
    ])
  })

  test('without an adapter to rebuild it, it is an undecodable record, kept whole as a bad row', () => {
    const text = encodeRequest({ vendor: 'com.pagerduty', version: 'v1', ctx }, readFixture('v1', 'incident.trigger__pagerduty-developer-docs.json'))
    const batch: Batch = { events: [], badRows: [] }
    decodeRecord({ position, next: position, events: 1, payload: Buffer.from(text) }, batch)
    expect(batch.badRows.map((b) => [b.reason, b.payload])).toEqual([['UNDECODABLE_SPOOL_RECORD', text]])
  })
})
