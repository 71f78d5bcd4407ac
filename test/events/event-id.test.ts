import { describe, expect, test } from 'bun:test'
import { pagerdutyEventId, uuidV5 } from '../../src/events/event-id.ts'

describe('uuidV5', () => {
  test('matches RFC 9562 for the DNS namespace example', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com')
    expect(uuidV5('www.example.com', Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex'))).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2')
  })

  test('the same PagerDuty message id always gives the same event id, and versions do not collide', () => {
    const id = 'a52d3f80-d9a7-11e5-8db3-22000ad5aec9'
    expect(pagerdutyEventId('v1', id, {})).toBe(pagerdutyEventId('v1', id, { other: true }))
    expect(pagerdutyEventId('v1', id, {})).not.toBe(pagerdutyEventId('v3', id, {}))
    expect(pagerdutyEventId('v1', id, {})).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })
})
