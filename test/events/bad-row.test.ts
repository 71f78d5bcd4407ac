import { describe, expect, test } from 'bun:test'
import { badRow, parseRequestText, requestText } from '../../src/events/bad-row.ts'
import type { RequestContext } from '../../src/events/event.ts'

const ctx = (requestId: string, webhookId: string | null): RequestContext => ({
  receivedAt: new Date('2026-11-30T12:00:00Z'), query: {}, ipAddress: null, userAgent: 'PagerDuty-Webhook/V3.0', webhookId, requestId,
})
const id = (c: RequestContext, position = 'event', payload = '{"id":"E1"}') => badRow(c, position, 'UNKNOWN_EVENT_TYPE', [], 'v3', payload).bad_row_id

describe('bad-row ids', () => {
  test('a PagerDuty retry (same X-Webhook-Id and body, another request) gets the same id, so it is stored once', () => {
    expect(id(ctx('request-1', 'wh-1'))).toBe(id(ctx('request-2', 'wh-1')))
  })

  test('another webhook, another position or another body under the same header: another id', () => {
    const ids = [id(ctx('r', 'wh-1')), id(ctx('r', 'wh-2')), id(ctx('r', 'wh-1'), '1'), id(ctx('r', 'wh-1'), 'event', '{"id":"E2"}')]
    expect(new Set(ids).size).toBe(4)
  })

  test('without the header, each request stores its own and the same request (a spool replay) the same', () => {
    expect(id(ctx('request-1', null))).not.toBe(id(ctx('request-2', null)))
    expect(id(ctx('request-1', null))).toBe(id(ctx('request-1', null)))
  })
})

describe('the request column', () => {
  test('keeps the query parameters and the headers events take, and reads back', () => {
    const c: RequestContext = { ...ctx('r', 'wh-1'), query: { aid: 'acme', p: 'srv' }, ipAddress: '203.0.113.7' }
    const row = badRow(c, 'event', 'UNKNOWN_EVENT_TYPE', [], 'v3', '{}')
    expect(JSON.parse(row.request as string)).toEqual({ query: { aid: 'acme', p: 'srv' }, user_ipaddress: '203.0.113.7', useragent: 'PagerDuty-Webhook/V3.0', webhook_id: 'wh-1' })
    expect(parseRequestText(row.request)).toEqual({ query: { aid: 'acme', p: 'srv' }, user_ipaddress: '203.0.113.7', useragent: 'PagerDuty-Webhook/V3.0', webhook_id: 'wh-1' })
  })

  test('anything else reads as none (a row from before the column, a value cut short, another shape)', () => {
    const whole = requestText({ ...ctx('r', null), query: { aid: 'acme' } })
    for (const text of [null, undefined, '', whole.slice(0, -3), '[]', '{"query":[]}', '{"query":{"aid":1},"user_ipaddress":null,"useragent":null,"webhook_id":null}', '{"query":{},"user_ipaddress":5,"useragent":null,"webhook_id":null}']) {
      expect(parseRequestText(text)).toBeNull()
    }
  })
})
