/** The request context the adapter tests use: a fixed clock and ids, as the HTTP edge builds it. */
import type { RequestContext } from '../../../src/events/event.ts'

export const RECEIVED_AT = new Date('2024-05-06T07:08:09.123Z')

export function testContext(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    receivedAt: RECEIVED_AT,
    query: {},
    ipAddress: '203.0.113.9',
    userAgent: 'PagerDuty-Webhook/V3.0',
    webhookId: 'a3d6149f-7577-4e8c-bc7c-e0e80e1f3a55',
    requestId: '00000000-0000-4000-8000-000000000001',
    ...overrides,
  }
}

export const pick = (row: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(keys.map((k) => [k, row[k]]))
