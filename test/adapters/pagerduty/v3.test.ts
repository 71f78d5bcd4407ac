import { describe, expect, test } from 'bun:test'
import { createPagerDutyAdapter } from '../../../src/adapters/pagerduty/adapter.ts'
import { V3_TABLE, V3_TRACKER } from '../../../src/adapters/pagerduty/v3.ts'
import { V3Event, V3_TYPES } from '../../../src/adapters/pagerduty/v3-schema.ts'
import { pagerdutyEventId } from '../../../src/events/event-id.ts'
import type { Cell } from '../../../src/events/event.ts'
import { fixtureJson } from '../../helpers/fixtures.ts'
import { fixtureRequests, REFERENCE_FILE } from '../../helpers/pagerduty-requests.ts'
import { pick, testContext } from './context.ts'

const adapter = createPagerDutyAdapter('9.9.9')
const toEvents = (body: unknown) => adapter.toEvents({ body, rawBody: JSON.stringify(body), ctx: testContext() })

const COLUMNS = ['event_type', 'id', 'data.type', 'incident.id', 'incident.number', 'incident.status', 'incident.title', 'service.summary', 'agent.id', 'client.name', 'occurred_at'] as const

// What each real fixture holds (read off the files), as the v3 table must show it; null = a ping.
const EXPECTED: Record<string, Cell[] | null> = {
  'incident.annotated__zulip-fixture.json': ['incident.annotated', '01GI0KTE33V5QXBVIJDEVJFUNE', 'incident_note', 'Q3B15VLMF3ASBD', null, null, 'Critical: Checkout API High Latency', null, 'PXRUEF2', null, '2026-04-01 02:18:59.674'],
  'incident.conference_bridge.updated__zulip-fixture.json': ['incident.conference_bridge.updated', '01GI0KX5GCRKLDQFLNMGZ30JV2', 'incident_conference_bridge', 'Q3B15VLMF3ASBD', null, null, 'Critical: Checkout API High Latency', null, 'PXRUEF2', null, '2026-04-01 02:20:15.274'],
  'incident.custom_field_values.updated__docs-datatype-SYNTHETIC-envelope.json': ['incident.custom_field_values.updated', 'DOCS-DATATYPE-EXAMPLE-NOT-REAL-ID', 'incident_field_values', 'PBAZLIU', null, null, null, null, null, null, '2020-10-02 18:45:22.169'],
  'incident.escalated__rudder-transformer-incident_escalated_0.json': ['incident.escalated', '01DFU77KTKK9UUYX779UX0N1ZP', 'incident', 'Q1KRTY75EUMGM0', 7, 'triggered', 'Event Stream Failure', 'Database', 'PXZZD2E', null, '2022-12-20 11:49:35.385'],
  'incident.priority_updated__go-pagerduty-signature-testvector.raw.json': ['incident.priority_updated', '01BWDWL3NYY7LUFPZCC28QUCMK', 'incident', 'PGR0VU2', 2, 'triggered', 'A little bump in the road', 'API Service', 'PLH1HKV', null, '2021-04-26 17:36:27.458'],
  'incident.priority_updated__pagerduty-developer-docs.json': ['incident.priority_updated', '5ac64822-4adc-4fda-ade0-410becf0de4f', 'incident', 'PGR0VU2', 2, 'triggered', 'A little bump in the road', 'API Service', 'PLH1HKV', 'PagerDuty', '2020-10-02 18:45:22.169'],
  'incident.priority_updated__rudder-transformer-incident_priority_updated_0.json': ['incident.priority_updated', '01DFU6P4VDDZCIHVQ5Q0ME99OE', 'incident', 'Q1KRTY75EUMGM0', 7, 'acknowledged', 'Event Stream Failure', 'Database', 'PXZZD2E', null, '2022-12-20 11:43:24.342'],
  'incident.reopened__zulip-fixture-incident_type.json': ['incident.reopened', '01GI0KHLHVH4YZ44BJY1VLT6F2', 'incident', 'Q05XJA8GDXGOB3', 4, 'triggered', 'Test Incident 2', 'Default Service', 'PXRUEF2', null, '2026-04-01 02:15:02.274'],
  'incident.resolved__rudder-transformer-incident_resolved_0.json': ['incident.resolved', '01DEN1HNLBC1VITK192ETJ1MPJ', 'incident', 'Q3S7IX2U5KTCOY', 2, 'resolved', 'Server Crashed', 'Database', 'PXZZD2E', null, '2022-12-07 11:04:27.459'],
  'incident.responder.added__rudder-transformer-incident_responder_added_0.json': ['incident.responder.added', '01DFU6Z1ZCLMV9SEK3X5JZ5WLW', 'incident_responder', 'Q1KRTY75EUMGM0', null, null, 'Event Stream Failure', null, 'PXZZD2E', null, '2022-12-20 11:46:44.213'],
  'incident.responder.added__zulip-fixture.json': ['incident.responder.added', '01GI0KX4BFZXPEDNCS4USCAH22', 'incident_responder', 'Q3B15VLMF3ASBD', null, null, 'Critical: Checkout API High Latency', null, 'PXRUEF2', null, '2026-04-01 02:20:14.737'],
  'incident.status_update_published__zulip-fixture.json': ['incident.status_update_published', '01GI0KPHX6I892N2PFKDLH25XK', 'incident_status_update', 'Q3B15VLMF3ASBD', null, null, 'Critical: Checkout API High Latency', null, 'PXRUEF2', null, '2026-04-01 02:17:41.211'],
  'incident.triggered__rudder-transformer-incident_triggered_0.json': ['incident.triggered', '01DEN0V2VIFEN5871PQGX72URP', 'incident', 'Q3S7IX2U5KTCOY', 2, 'triggered', 'Server Crashed', 'Database', 'PXZZD2E', 'Monitoring Service', '2022-12-07 10:56:52.337'],
  'incident.triggered__zulip-fixture-2021.json': ['incident.triggered', '01BZYIL05THJDFF2Y08X9SVMTU', 'incident', 'PFQZPSY', 9, 'triggered', 'Test Incident 3', 'pig208', 'PJ0LVEB', null, '2021-06-04 13:35:29.781'],
  'incident.workflow.started__zulip-fixture-numeric-event-id.json': ['incident.workflow.started', '32743190385439511823355034091750713370', 'incident_workflow_instance', 'Q3B15VLMF3ASBD', null, null, 'Critical: Checkout API High Latency', 'APIs', 'PXRUEF2', null, '2026-04-01 02:51:47.500'],
  'pagey.ping__n8n-nodes-pagerduty-trigger-README.request.json': null,
  'pagey.ping__pd2zabbix-readme.json': null,
  'service.updated__pagerduty-developer-docs.json': ['service.updated', '01BRB6ZP4M6T8ZG4X6BP63ZB9O', 'service', null, null, null, null, 'testing service updates', null, null, '2021-03-02 13:35:11.682'],
}

describe('v3 events', () => {
  const requests = fixtureRequests('v3')
  const real = requests.filter((r) => !r.name.startsWith(REFERENCE_FILE))
  const docs = requests.filter((r) => r.name.startsWith(REFERENCE_FILE))

  test('every real v3 fixture has an expectation, and the docs file yields one event per GA type', () => {
    expect(real.map((r) => r.name).sort()).toEqual(Object.keys(EXPECTED).sort())
    expect(docs.length).toBe(Object.keys(V3_TYPES).length)
    expect(docs.length).toBe(30)
  })

  test.each(real.map((r) => [r.name, r] as const))('%s loads into the v3 table, or is a ping', (name, request) => {
    const body = JSON.parse(request.body) as { event: Record<string, unknown> }
    const result = toEvents(body)
    if (!result.ok) throw new Error(result.message)
    const expected = EXPECTED[name]
    if (expected === null) {
      expect(result).toEqual({ ok: true, version: 'v3', events: [], badRows: [], pings: 1 })
      return
    }
    expect({ version: result.version, badRows: result.badRows, pings: result.pings, events: result.events.length }).toEqual({ version: 'v3', badRows: [], pings: 0, events: 1 })
    const event = result.events[0]!
    expect(event.eventId).toBe(pagerdutyEventId('v3', String(body.event.id), body.event))
    expect(event.rows.map((r) => r.table)).toEqual(['events', V3_TABLE])
    expect(pick(event.rows[0]!.row, ['event_name', 'event_version', 'v_tracker'])).toEqual({ event_name: 'webhook_v3_event', event_version: '1-0-0', v_tracker: V3_TRACKER })
    const row = event.rows[1]!.row
    expect(COLUMNS.map((c) => row[c])).toEqual(expected!)
    expect(pick(row, ['root_id', 'schema_name', 'webhook_id'])).toEqual({ root_id: event.eventId, schema_name: 'webhook_v3_event', webhook_id: 'a3d6149f-7577-4e8c-bc7c-e0e80e1f3a55' })
    expect(JSON.parse(row.data as string)).toEqual(body.event.data)
    expect(JSON.parse(row.raw_message as string)).toEqual(body.event)
  })

  test.each(docs.map((r) => [r.name.split('#')[1]!, r] as const))('the GA type %s loads with its documented data', (eventType, request) => {
    const result = toEvents(JSON.parse(request.body))
    expect(result.ok && [result.badRows, result.events.map((e) => pick(e.rows[1]!.row, ['event_type', 'data.type']))]).toEqual([
      [], [{ event_type: eventType, 'data.type': V3_TYPES[eventType] }],
    ])
  })

  const triggered = fixtureJson('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json') as { event: Record<string, unknown> }

  test('an unknown v3 event type is a bad row holding the event, not a failed request', () => {
    const event = { ...triggered.event, event_type: 'incident.teleported' }
    const result = toEvents({ event })
    expect(result.ok && result.events).toEqual([])
    if (!result.ok) return
    expect(result.badRows.map((b) => ({ reason: b.reason, version: b.version, detail: JSON.parse(b.detail), payload: JSON.parse(b.payload) }))).toEqual([
      { reason: 'UNKNOWN_EVENT_TYPE', version: 'v3', detail: [{ path: '/event/event_type', message: 'no schema for v3 event type "incident.teleported"' }], payload: event },
    ])
  })

  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('an event type named like an Object method (%s) is unknown, not loaded', (type) => {
    const result = toEvents({ event: { ...triggered.event, event_type: type } })
    expect(result.ok && [result.events.length, result.badRows.map((b) => b.reason)]).toEqual([0, ['UNKNOWN_EVENT_TYPE']])
  })

  test('a numeric event id loads while exact; past 2^53 (JSON.parse rounds it, two events would share an event_id) it is a bad row', () => {
    const exact = toEvents({ event: { ...triggered.event, id: 12345 } })
    expect(exact.ok && exact.events.map((e) => e.eventId)).toEqual([pagerdutyEventId('v3', '12345', null)])
    const rounded = adapter.toEvents({ body: JSON.parse('{"event":' + JSON.stringify({ ...triggered.event, id: 0 }).replace('"id":0', '"id":32743190385439511823355034091750713370') + '}'), rawBody: '', ctx: testContext() })
    expect(rounded.ok && [rounded.events.length, rounded.badRows.map((b) => [b.reason, JSON.parse(b.detail)[0].path])]).toEqual([0, [['INVALID_EVENT', '/event/id']]])
  })

  test('a v3 event without event_type is a bad row', () => {
    const { event_type: _, ...event } = triggered.event
    const result = toEvents({ event })
    expect(result.ok && result.badRows.map((b) => [b.reason, JSON.parse(b.detail)])).toEqual([
      ['MISSING_EVENT_TYPE', [{ path: '/event/event_type', message: 'cannot determine event type: event_type not provided or empty' }]],
    ])
  })

  test('a v3 event with neither id nor data is a bad row naming each problem once', () => {
    const result = toEvents({ event: { event_type: 'incident.triggered' } })
    expect(result.ok && result.badRows.map((b) => [b.reason, JSON.parse(b.detail)])).toEqual([
      ['INVALID_EVENT', [
        { path: '/event/id', message: 'Expected string or integer' },
        { path: '/event/data', message: 'Expected required property' },
        { path: '/event/data', message: 'Expected object' },
      ]],
    ])
  })

  test('an incident whose number is text is a bad row naming the data path', () => {
    const event = { ...triggered.event, data: { ...(triggered.event.data as object), number: 'two' } }
    const result = toEvents({ event })
    expect(result.ok && result.badRows.map((b) => [b.reason, JSON.parse(b.detail)[0]])).toEqual([
      ['INVALID_EVENT', { path: '/event/data/number', message: 'Expected integer or null' }],
    ])
  })

  test('agent and client may be missing, and priority, conference bridge, resolve reason and incident key null', () => {
    const { agent: _a, client: _c, ...rest } = triggered.event
    const data = { ...(triggered.event.data as object), priority: null, conference_bridge: null, resolve_reason: null, incident_key: null }
    const result = toEvents({ event: { ...rest, data } })
    expect(result.ok && result.events.map((e) => pick(e.rows[1]!.row, ['agent.id', 'client.name', 'incident.priority.id', 'incident.incident_key']))).toEqual([
      { 'agent.id': null, 'client.name': null, 'incident.priority.id': null, 'incident.incident_key': null },
    ])
  })

  test('a retry of the same event gets the same event id; another event id, another', () => {
    const first = toEvents(triggered)
    const again = toEvents(JSON.parse(JSON.stringify(triggered)))
    const other = toEvents({ event: { ...triggered.event, id: '01DEN0V2VIFEN5871PQGX72URQ' } })
    const ids = [first, again, other].map((r) => (r.ok ? r.events[0]!.eventId : null))
    expect(ids[0]).toBe(ids[1]!)
    expect(ids[2]).not.toBe(ids[0]!)
  })

  test('the v3 schema is self-describing (Iglu vendor com.pagerduty, SchemaVer)', () => {
    expect((V3Event as unknown as { self: unknown }).self).toEqual({ vendor: 'com.pagerduty', name: 'webhook_v3_event', format: 'jsonschema', version: '1-0-0' })
  })
})
