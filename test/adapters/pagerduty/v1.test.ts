import { describe, expect, test } from 'bun:test'
import { createPagerDutyAdapter } from '../../../src/adapters/pagerduty/index.ts'
import { MAX_BAD_ROWS_PER_REQUEST } from '../../../src/adapters/pagerduty/adapter.ts'
import { nullifyNullStrings, stripIncidentPrefix } from '../../../src/adapters/pagerduty/reformat.ts'
import type { AdapterResult } from '../../../src/adapters/types.ts'
import type { RequestContext, Row } from '../../../src/events/event.ts'
import { pagerdutyEventId } from '../../../src/events/event-id.ts'
import { fixtureFiles, fixtureJson, readFixture } from '../../helpers/fixtures.ts'

const adapter = createPagerDutyAdapter('9.9.9')
const ctx = (query: Record<string, string> = {}): RequestContext => ({
  receivedAt: new Date('2013-08-29T00:18:48.000Z'),
  query,
  ipAddress: '37.157.33.123',
  userAgent: 'PagerDuty-Webhook/V1.0',
  webhookId: 'wh-1',
  requestId: '00000000-0000-4000-8000-000000000001',
})
const run = (body: unknown, query: Record<string, string> = {}): AdapterResult =>
  adapter.toEvents({ body, rawBody: JSON.stringify(body), ctx: ctx(query) })
const ok = (r: AdapterResult) => {
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.message}`)
  return r
}
const incidentRow = (r: AdapterResult, i = 0): Row => ok(r).events[i]?.rows[1]?.row as Row
const atomic = (r: AdapterResult, i = 0): Row => ok(r).events[i]?.rows[0]?.row as Row

describe('every v1 fixture', () => {
  test.each(fixtureFiles('v1'))('%s becomes one event per message, none bad', (file) => {
    const body = fixtureJson('v1', file) as { messages: Record<string, unknown>[] }
    const result = ok(run(body))
    expect(result.badRows).toEqual([])
    expect(result.events.length).toBe(body.messages.length)
    body.messages.forEach((message, i) => {
      const event = result.events[i]
      expect(event?.eventId).toBe(pagerdutyEventId('v1', message.id as string, message))
      expect(event?.rows.map((r) => r.table)).toEqual(['events', 'com_pagerduty_incident_1'])
      expect(incidentRow(result, i).type).toBe(String(message.type).replace('incident.', ''))
      expect(JSON.parse(incidentRow(result, i).raw_message as string)).toEqual(message)
      expect(incidentRow(result, i).root_id).toBe(event?.eventId as string)
    })
  })
})

describe('the atomic.events row', () => {
  test('carries the values DESIGN.md lists', () => {
    const r = run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'), { aid: 'acme', cv: 'clj-0.6.0', nuid: 'n-1' })
    expect(atomic(r)).toEqual({
      event_id: pagerdutyEventId('v1', 'a52d3f80-d9a7-11e5-8db3-22000ad5aec9', undefined),
      collector_tstamp: '2013-08-29 00:18:48.000',
      etl_tstamp: '2013-08-29 00:18:48.000',
      derived_tstamp: '2013-08-29 00:18:48.000',
      event: 'unstruct',
      event_vendor: 'com.pagerduty',
      event_name: 'incident',
      event_format: 'jsonschema',
      event_version: '1-0-0',
      v_tracker: 'com.pagerduty-v1',
      v_collector: 'clj-0.6.0',
      v_etl: 'pagerduty-collector-9.9.9',
      app_id: 'acme',
      platform: 'srv',
      network_userid: 'n-1',
      user_ipaddress: '37.157.33.123',
      useragent: 'PagerDuty-Webhook/V1.0',
    })
  })

  test('takes the platform from p and defaults v_collector to the collector', () => {
    const a = atomic(run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'), { p: 'web' }))
    expect([a.platform, a.v_collector, a.app_id]).toEqual(['web', 'pagerduty-collector-9.9.9', null])
  })

  test('a platform Snowplow does not know loads as srv with a warning (a 4xx would get the subscription disabled); case is ignored', () => {
    const r = run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'), { p: 'desktop' })
    expect(r.ok && [atomic(r).platform, r.warnings]).toEqual(['srv', [{ path: '/query/p', message: 'platform must be one of web, mob, pc, srv, app, tv, cnsl, iot, headset; got "desktop": loaded as srv' }]])
    const upper = run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'), { p: 'WEB' })
    expect(upper.ok && [atomic(upper).platform, upper.warnings]).toEqual(['web', undefined])
  })

  test('a `__proto__` key is data: it cannot stand in for a message\'s missing fields, "null" strings or not', () => {
    const body = JSON.parse('{"messages":[{"type":"incident.trigger","id":"P-1","x":"null","__proto__":{"data":{"incident":{"id":"FROM_PROTO"}}}}]}')
    const r = run(body)
    expect(r.ok && [r.events.length, r.badRows.map((b) => b.reason)]).toEqual([0, ['INVALID_MESSAGE']])
  })

  test('a NUL in a query value (%00) is stored as U+FFFD: PostgreSQL text cannot hold it', () => {
    const a = atomic(run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json'), { aid: 'a\u0000b' }))
    expect(a.app_id).toBe('a\uFFFDb')
  })
})

describe('the com_pagerduty_incident_1 row', () => {
  test('maps the developer-docs trigger to Snowplow columns with the corrected escalation-policy names', () => {
    const row = incidentRow(run(fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json')))
    const eventId = pagerdutyEventId('v1', 'a52d3f80-d9a7-11e5-8db3-22000ad5aec9', undefined)
    expect({ ...row, raw_message: 'checked elsewhere' } as Row).toEqual({
      schema_vendor: 'com.pagerduty', schema_name: 'incident', schema_format: 'jsonschema', schema_version: '1-0-0',
      root_id: eventId, root_tstamp: '2013-08-29 00:18:48.000', ref_root: 'events', ref_tree: '["events","incident"]', ref_parent: 'events',
      id: 'a52d3f80-d9a7-11e5-8db3-22000ad5aec9', created_on: '2016-02-22 21:02:55', type: 'trigger',
      'data.incident.id': 'PRORDTY', 'data.incident.incident_number': 2126, 'data.incident.created_on': '2016-02-22 21:02:55',
      'data.incident.status': 'triggered', 'data.incident.html_url': 'https://webdemo.pagerduty.com/incidents/PRORDTY',
      'data.incident.incident_key': '17a02d0d370d4add8e53132199614121',
      'data.incident.service.id': 'PDS1SN6', 'data.incident.service.name': 'Production XDB Cluster',
      'data.incident.service.html_url': 'https://webdemo.pagerduty.com/services/PDS1SN6', 'data.incident.service.deleted_at': null,
      'data.incident.escalation_policy.id': 'P5ARF12', 'data.incident.escalation_policy.name': 'Database Team', 'data.incident.escalation_policy.deleted_at': null,
      'data.incident.assigned_to_user.id': 'P553OPV', 'data.incident.assigned_to_user.name': 'Laura Haley',
      'data.incident.assigned_to_user.email': 'laura.haley@example.com', 'data.incident.assigned_to_user.html_url': 'https://webdemo.pagerduty.com/users/P553OPV',
      'data.incident.trigger_summary_data.description': null, 'data.incident.trigger_summary_data.subject': 'CPU Load High on xdb_production_echo',
      'data.incident.trigger_summary_data.client': null,
      'data.incident.trigger_details_html_url': 'https://webdemo.pagerduty.com/incidents/PRORDTY/log_entries/Q2AIXW2ZIMCI4P',
      'data.incident.trigger_type': 'web_trigger', 'data.incident.last_status_change_on': '2016-02-22 21:02:55',
      'data.incident.last_status_change_by.id': null, 'data.incident.last_status_change_by.name': null,
      'data.incident.last_status_change_by.email': null, 'data.incident.last_status_change_by.html_url': null,
      'data.incident.number_of_escalations': 0,
      'data.incident.assigned_to': JSON.stringify([{ at: '2016-02-22T21:02:55Z', object: { id: 'P553OPV', name: 'Laura Haley', email: 'laura.haley@example.com', html_url: 'https://webdemo.pagerduty.com/users/P553OPV', type: 'user' } }]),
      'data.incident.resolved_by_user.id': null, 'data.incident.resolved_by_user.name': null,
      'data.incident.resolved_by_user.email': null, 'data.incident.resolved_by_user.html_url': null,
      'data.incident.pending_actions': JSON.stringify([{ type: 'escalate', at: '2016-02-22T13:07:55-08:00' }, { type: 'resolve', at: '2016-02-22T17:02:55-08:00' }]),
      'data.incident.urgency': 'high',
      webhook_id: 'wh-1',
      raw_message: 'checked elsewhere',
    })
  })

  test('keeps the raw message byte-for-byte equal as JSON, extra fields included', () => {
    const body = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
    const first = body.messages[0] as Record<string, unknown>
    first.account_features = { response_automation: true }
    expect(JSON.parse(incidentRow(run(body)).raw_message as string).account_features).toEqual({ response_automation: true })
  })
})

// Snowplow's PagerdutyAdapterSpec (reference/snowplow_pagerduty.md section 2), as behaviours.
describe("Snowplow's adapter spec", () => {
  test('e1: the string "null" becomes null at the top, nested and inside arrays', () => {
    expect(nullifyNullStrings({ type: 'null', some: 'null', nested: { some: 'null' }, list: ['null', 'x', { a: 'null' }] }))
      .toEqual({ type: null, some: null, nested: { some: null }, list: [null, 'x', { a: null }] })
  })

  test('e2: incident.trigger loses its prefix', () => {
    expect(stripIncidentPrefix('incident.trigger')).toBe('trigger')
  })

  test('e3: " 00:00" offsets and other offsets are stored in UTC', () => {
    const body = { messages: [{ type: 'incident.trigger', id: 'x1', created_on: '2014-11-12T18:53:47 00:00', data: { incident: { id: 'P9WY9U9', created_on: '2014-12-15T08:19:54-08:00', last_status_change_on: 'null' } } }] }
    const row = incidentRow(run(body))
    expect([row.created_on, row['data.incident.created_on'], row['data.incident.last_status_change_on']]).toEqual(['2014-11-12 18:53:47', '2014-12-15 16:19:54', null])
  })

  test('e4: the minimal message of the spec loads', () => {
    const r = ok(run({ messages: [{ type: 'incident.trigger', data: { incident: { id: 'P9WY9U9' } } }] }))
    expect([r.events.length, incidentRow(r)['data.incident.id'], incidentRow(r).id]).toEqual([1, 'P9WY9U9', null])
  })

  test('e5: a body without a messages array is not a PagerDuty webhook', () => {
    expect(run({ somekey: 'key' })).toEqual({
      ok: false, code: 'NOT_PAGERDUTY', version: null,
      message: 'not a PagerDuty webhook: expected {"messages": [...]} (v1, v2) or {"event": {...}} (v3)',
      issues: [{ path: '/messages', message: 'field `messages` is not an array' }],
    })
  })

  test('e7: a type without the incident. prefix is a bad row, not a failed request', () => {
    const message = { type: 'trigger', id: 'm-7', data: { incident: { id: 'P9WY9U9' } } }
    const r = ok(run({ messages: [message] }))
    expect(r.events).toEqual([])
    expect(r.badRows.map((b) => [b.reason, b.version, b.payload, JSON.parse(b.detail)])).toEqual([
      ['UNKNOWN_EVENT_TYPE', 'v1', JSON.stringify(message), [{ path: '/messages/0/type', message: 'no schema for v1 type "trigger"' }]],
    ])
  })
})

describe('where Snowplow fails the whole request, we load what is valid', () => {
  test('a batch of one valid, one unknown, one typeless and one ill-typed message loads the valid one', () => {
    const valid = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: unknown[] }).messages[0]
    const body = { messages: [valid, { type: 'incident.annotate', data: { incident: {} } }, { data: { incident: {} } }, { type: 'incident.resolve', data: { incident: { incident_number: 'seven' } } }, 42] }
    const r = ok(run(body))
    expect(r.events.length).toBe(1)
    expect(r.badRows.map((b) => [b.reason, JSON.parse(b.detail)[0]])).toEqual([
      ['UNKNOWN_EVENT_TYPE', { path: '/messages/1/type', message: 'no schema for v1 type "incident.annotate"' }],
      ['UNKNOWN_WEBHOOK_VERSION', { path: '/messages/2', message: 'cannot tell the webhook version: neither `type` (v1) nor `event` (v2)' }],
      ['INVALID_MESSAGE', { path: '/messages/3/data/incident/incident_number', message: 'Expected integer or null' }],
      ['INVALID_MESSAGE', { path: '/messages/4', message: 'must be an object' }],
    ])
  })

  test('past 100 failed messages, a request keeps one bad row with the whole body (memory stays bounded), and loads its valid ones', () => {
    const valid = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: unknown[] }).messages[0]
    const within = ok(run({ messages: [valid, ...Array.from({ length: MAX_BAD_ROWS_PER_REQUEST }, () => ({}))] }))
    expect([within.events.length, within.badRows.length]).toEqual([1, MAX_BAD_ROWS_PER_REQUEST])
    const body = { messages: [valid, ...Array.from({ length: 50_000 }, (_, i) => (i % 2 ? {} : 7))] }
    const r = ok(run(body))
    expect(r.events.length).toBe(1)
    expect(r.badRows.map((b) => [b.reason, b.version, b.payload])).toEqual([['TOO_MANY_BAD_MESSAGES', 'v1', JSON.stringify(body)]])
    const issues = JSON.parse(r.badRows[0]?.detail as string) as { path: string; message: string }[]
    expect(issues[0]).toEqual({ path: '/messages', message: `50000 of 50001 messages could not be loaded; the first ${MAX_BAD_ROWS_PER_REQUEST} issues follow, the body holds them all` })
    expect(issues.slice(1, 3)).toEqual([{ path: '/messages/1', message: 'must be an object' }, { path: '/messages/2', message: 'cannot tell the webhook version: neither `type` (v1) nor `event` (v2)' }])
    expect(issues.length).toBe(MAX_BAD_ROWS_PER_REQUEST + 1)
  })

  test('bad-row ids are stable for the same request and position, so a spool replay inserts them once', () => {
    const body = { messages: [{ type: 'incident.nope', data: { incident: {} } }] }
    expect(ok(run(body)).badRows[0]?.bad_row_id).toBe(ok(run(body)).badRows[0]?.bad_row_id as string)
  })

  test('an empty messages array is rejected as not PagerDuty', () => {
    const r = run({ messages: [] })
    expect(r.ok ? 'ok' : r.code).toBe('NOT_PAGERDUTY')
  })

  test('a message without an id gets an id from its own JSON, the same on every retry', () => {
    const body = { messages: [{ type: 'incident.trigger', data: { incident: { id: 'PX' } } }] }
    expect(ok(run(body)).events[0]?.eventId).toBe(ok(run(JSON.parse(JSON.stringify(body)))).events[0]?.eventId as string)
  })

  test('the zulip batch fixture with null trigger_summary_data loads both messages', () => {
    const r = ok(run(JSON.parse(readFixture('v1', 'batch_incident.assign+acknowledge__zulip-fixture-null-trigger_summary_data.json'))))
    expect(r.events.map((e) => (e.rows[1]?.row as Row).type)).toEqual(['assign', 'acknowledge'])
  })
})
