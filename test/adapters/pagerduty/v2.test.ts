import { describe, expect, test } from 'bun:test'
import { createPagerDutyAdapter } from '../../../src/adapters/pagerduty/adapter.ts'
import { V2_TABLE, V2_TRACKER } from '../../../src/adapters/pagerduty/v2.ts'
import { V2Message } from '../../../src/adapters/pagerduty/v2-schema.ts'
import { pagerdutyEventId } from '../../../src/events/event-id.ts'
import type { Cell } from '../../../src/events/event.ts'
import { fixtureRequests } from '../../helpers/pagerduty-requests.ts'
import { fixtureJson } from '../../helpers/fixtures.ts'
import { pick, testContext } from './context.ts'

const adapter = createPagerDutyAdapter('9.9.9')
const toEvents = (body: unknown, ctx = testContext()) => adapter.toEvents({ body, rawBody: JSON.stringify(body), ctx })

const COLUMNS = ['id', 'event', 'created_on', 'incident.id', 'incident.incident_number', 'incident.status', 'incident.urgency', 'incident.service.name', 'incident.priority.summary', 'log_entries[0].type', 'log_entries[0].agent.id', 'log_entries[0].channel.type'] as const

// What each fixture holds (read off the files), as the v2 table must show it.
const EXPECTED: Record<string, Cell[]> = {
  'incident.acknowledge__pagerduty-developer-docs.json': ['82a33960-a2cd-11e7-8f69-22000affca53', 'incident.acknowledge', '2017-09-26 15:15:17', 'PRORDTY', 33, 'acknowledged', 'high', 'Production XDB Cluster', null, 'acknowledge_log_entry', 'P553OPV', 'website'],
  'incident.assign__pagerduty-developer-docs.json': ['9e7850d0-a2cd-11e7-8f69-22000affca53', 'incident.assign', '2017-09-26 15:16:05', 'PRORDTY', 33, 'triggered', 'high', 'Production XDB Cluster', null, 'assign_log_entry', 'P553OPV', 'website'],
  'incident.resolve__pagerduty-developer-docs.json': ['e82195c0-a2cd-11e7-8f69-22000affca53', 'incident.resolve', '2017-09-26 15:18:09', 'PRORDTY', 33, 'resolved', 'high', 'Production XDB Cluster', null, 'resolve_log_entry', 'P553OPV', 'website'],
  'incident.trigger__giranm-pagerduty-aws-lambda.json': ['0d5e7528-dbed-11ea-b3e3-0242c0a82a05', 'incident.trigger', '2020-08-11 16:09:36', 'PKSEBO6', 154, 'triggered', 'high', 'TestService', 'P2', 'trigger_log_entry', 'PXNQ3VL', 'web_trigger'],
  'incident.trigger__giranm-pagerduty-aws-lambda.request.json': ['0d5e7528-dbed-11ea-b3e3-0242c0a82a05', 'incident.trigger', '2020-08-11 16:09:36', 'PKSEBO6', 154, 'triggered', 'high', 'TestService', 'P2', 'trigger_log_entry', 'PXNQ3VL', 'web_trigger'],
  'incident.trigger__pagerduty-developer-docs.json': ['69a7ced0-a2cd-11e7-a799-22000a15839c', 'incident.trigger', '2017-09-26 15:14:36', 'PRORDTY', 33, 'triggered', 'high', 'Production XDB Cluster', null, 'trigger_log_entry', 'P553OPV', 'web_trigger'],
}

describe('v2 messages', () => {
  const requests = fixtureRequests('v2')

  test('every v2 fixture has an expectation', () => {
    expect(requests.map((r) => r.name).sort()).toEqual(Object.keys(EXPECTED).sort())
  })

  test.each(requests.map((r) => [r.name, r] as const))('%s loads into the v2 table', (name, request) => {
    const body = JSON.parse(request.body) as { messages: Record<string, unknown>[] }
    const result = toEvents(body)
    if (!result.ok) throw new Error(result.message)
    expect({ version: result.version, badRows: result.badRows, pings: result.pings, events: result.events.length }).toEqual({ version: 'v2', badRows: [], pings: 0, events: 1 })
    const event = result.events[0]!
    const id = EXPECTED[name]![0] as string
    expect(event.eventId).toBe(pagerdutyEventId('v2', id, body.messages[0]))
    expect(event.rows.map((r) => r.table)).toEqual(['events', V2_TABLE])
    expect(pick(event.rows[0]!.row, ['event_id', 'event_vendor', 'event_name', 'event_version', 'v_tracker', 'collector_tstamp'])).toEqual({
      event_id: event.eventId, event_vendor: 'com.pagerduty', event_name: 'webhook_v2_message', event_version: '1-0-0', v_tracker: V2_TRACKER, collector_tstamp: '2024-05-06 07:08:09.123',
    })
    const row = event.rows[1]!.row
    expect(COLUMNS.map((c) => row[c])).toEqual(EXPECTED[name]!)
    expect(pick(row, ['root_id', 'root_tstamp', 'schema_vendor', 'schema_name', 'schema_version', 'webhook_id'])).toEqual({
      root_id: event.eventId, root_tstamp: '2024-05-06 07:08:09.123', schema_vendor: 'com.pagerduty', schema_name: 'webhook_v2_message', schema_version: '1-0-0', webhook_id: 'a3d6149f-7577-4e8c-bc7c-e0e80e1f3a55',
    })
    expect(JSON.parse(row.raw_message as string)).toEqual(body.messages[0])
  })

  const trigger = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
  const withEvent = (event: unknown) => ({ messages: [{ ...trigger.messages[0], event }] })

  test.each(['incident.trigger', 'incident.acknowledge', 'incident.unacknowledge', 'incident.resolve', 'incident.assign', 'incident.escalate', 'incident.delegate', 'incident.annotate'])('the v2 type %s loads', (type) => {
    const result = toEvents(withEvent(type))
    expect(result.ok && result.events.map((e) => e.rows[1]!.row.event)).toEqual([type])
  })

  test('an unknown v2 event type is a bad row, not a failed request', () => {
    const result = toEvents(withEvent('incident.teleport'))
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.events).toEqual([])
    expect(result.badRows.map((b) => ({ reason: b.reason, version: b.version, detail: JSON.parse(b.detail) }))).toEqual([
      { reason: 'UNKNOWN_EVENT_TYPE', version: 'v2', detail: [{ path: '/messages/0/event', message: 'no schema for v2 event "incident.teleport"' }] },
    ])
    expect(JSON.parse(result.badRows[0]!.payload)).toEqual(withEvent('incident.teleport').messages[0])
  })

  test('a v2 message whose incident number is not an integer is a bad row naming the path', () => {
    const message = { ...trigger.messages[0], incident: { ...(trigger.messages[0]!.incident as object), incident_number: '33' } }
    const result = toEvents({ messages: [message] })
    expect(result.ok && result.badRows.map((b) => [b.reason, JSON.parse(b.detail)[0]])).toEqual([
      ['INVALID_MESSAGE', { path: '/messages/0/incident/incident_number', message: 'Expected integer or null' }],
    ])
  })

  test('a batch mixing v1 and v2 messages loads both and names both versions', () => {
    const v1 = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: unknown[] }
    const result = toEvents({ messages: [...v1.messages, ...trigger.messages] })
    expect(result.ok && [result.version, result.events.map((e) => e.rows[1]!.table)]).toEqual(['v1+v2', ['com_pagerduty_incident_1', V2_TABLE]])
  })

  test('the v2 schema is self-describing (Iglu vendor com.pagerduty, SchemaVer)', () => {
    expect((V2Message as unknown as { self: unknown }).self).toEqual({ vendor: 'com.pagerduty', name: 'webhook_v2_message', format: 'jsonschema', version: '1-0-0' })
  })
})

describe('credentials in the subscription URL', () => {
  // The README puts basic auth in the endpoint URL for v1/v2; PagerDuty echoes that URL back.
  const body = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: { webhook: { endpoint_url: string } }[] }
  const withSecret = { messages: [{ ...body.messages[0], webhook: { ...body.messages[0]!.webhook, endpoint_url: 'https://pagerduty:s3cret@collector.example.com/com.pagerduty/v1?aid=acme' } }] }

  test('are replaced by *** in raw_message, the rest of the message kept', () => {
    const result = toEvents(withSecret)
    const raw = JSON.parse(String(result.ok && result.events[0]?.rows[1]?.row.raw_message))
    expect(raw.webhook.endpoint_url).toBe('https://***@collector.example.com/com.pagerduty/v1?aid=acme')
    expect({ ...raw, webhook: { ...raw.webhook, endpoint_url: 'x' } }).toEqual({ ...withSecret.messages[0], webhook: { ...withSecret.messages[0]!.webhook, endpoint_url: 'x' } })
  })

  test('are replaced in the body kept for the spool, which builds the same events; a body without any has none of its own', () => {
    const result = toEvents(withSecret)
    if (!result.ok || result.storedBody === undefined) throw new Error('expected a stored body')
    expect(result.storedBody).not.toContain('s3cret')
    const again = toEvents(JSON.parse(result.storedBody))
    expect(again.ok && { events: again.events, badRows: again.badRows, storedBody: again.storedBody }).toEqual({ events: result.events, badRows: result.badRows, storedBody: undefined })
    const plain = toEvents(body)
    expect(plain.ok && plain.storedBody).toBeUndefined()
  })

  test('are replaced by *** in a bad row too', () => {
    const unknown = { messages: [{ ...withSecret.messages[0], event: 'incident.frobnicate' }] }
    const result = toEvents(unknown)
    expect(result.ok && result.badRows.map((b) => [b.reason, JSON.parse(b.payload).webhook.endpoint_url])).toEqual([
      ['UNKNOWN_EVENT_TYPE', 'https://***@collector.example.com/com.pagerduty/v1?aid=acme'],
    ])
  })
})
