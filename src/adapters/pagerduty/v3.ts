/**
 * One v3 event -> one `atomic.events` row + one `com_pagerduty_webhook_v3_event_1` row. The
 * envelope (type, time, agent, client) has columns; so do the incident and service the event
 * is about, whatever `data`'s shape: the full incident for incident-shaped events, else the
 * incident or service reference the data carries. `data` is kept whole in a JSON column and
 * the event as received in `raw_message`.
 */
import type { RequestContext, Row } from '../../events/event.ts'
import { pagerdutyEventId } from '../../events/event-id.ts'
import { toUtcTimestamp } from '../../events/timestamp.ts'
import { at, int, json, obj, str, type Obj } from './cells.ts'
import { pagerdutyEvent, schemaIssues, type MessageOutcome } from './message.ts'
import { V3EventCheck, V3_DATA_CHECKS, V3_PING, V3_SCHEMA, V3_TYPES, type V3Event } from './v3-schema.ts'

export { V3_SCHEMA }
export const V3_TABLE = 'com_pagerduty_webhook_v3_event_1'
export const V3_TRACKER = 'com.pagerduty-v3'

/** A `pagey.ping`: answered 2xx and counted, never loaded. */
export const isPing = (event: Record<string, unknown>): boolean => event.event_type === V3_PING

/** The incident an event is about: `data` itself (data.type "incident"), else its reference. */
function incidentOf(data: Record<string, unknown>): { incident: Obj; full: boolean } {
  if (data.type === 'incident') return { incident: data, full: true }
  const ref = obj(data.incident) ?? obj(at((data.incident_role_assignments as unknown[] | undefined)?.[0], 'incident'))
  return { incident: ref, full: false }
}

/** The service: `data` for service.* events, else the service the data names, if any. */
const serviceOf = (data: Record<string, unknown>): Obj => (data.type === 'service' ? data : obj(data.service))

export function v3EventRow(event: V3Event): Row {
  const data = event.data as Record<string, unknown>
  const { incident, full } = incidentOf(data)
  const i = full ? incident : null
  const service = serviceOf(data)
  return {
    id: String(event.id),
    event_type: event.event_type,
    resource_type: str(event.resource_type),
    occurred_at: toUtcTimestamp(event.occurred_at),
    'agent.id': str(at(event.agent, 'id')),
    'agent.type': str(at(event.agent, 'type')),
    'agent.summary': str(at(event.agent, 'summary')),
    'agent.html_url': str(at(event.agent, 'html_url')),
    'client.name': str(at(event.client, 'name')),
    'client.url': str(at(event.client, 'url')),
    'data.type': str(data.type),
    'data.id': str(data.id),
    'incident.id': str(at(incident, 'id')),
    'incident.number': int(at(i, 'number')),
    // A reference's summary is the incident's title (developer docs, incident_note example).
    'incident.title': str(at(i, 'title')) ?? str(at(incident, 'summary')),
    'incident.status': str(at(i, 'status')),
    'incident.urgency': str(at(i, 'urgency')),
    'incident.incident_key': str(at(i, 'incident_key')),
    'incident.html_url': str(at(incident, 'html_url')),
    'incident.created_at': toUtcTimestamp(at(i, 'created_at')),
    'incident.priority.id': str(at(i, 'priority', 'id')),
    'incident.priority.summary': str(at(i, 'priority', 'summary')),
    'incident.escalation_policy.id': str(at(i, 'escalation_policy', 'id')),
    'incident.escalation_policy.summary': str(at(i, 'escalation_policy', 'summary')),
    'incident.assignees': json(at(i, 'assignees')),
    'incident.resolve_reason.type': str(at(i, 'resolve_reason', 'type')),
    'service.id': str(at(service, 'id')),
    'service.summary': str(at(service, 'summary')),
    data: JSON.stringify(data),
  }
}

/** A v3 event (the object under the body's `event`) -> its event, or why not. */
export function v3Event(raw: Record<string, unknown>, ctx: RequestContext, collectorVersion: string): MessageOutcome {
  const type = raw.event_type
  if (typeof type !== 'string' || type === '') {
    return { ok: false, reason: 'MISSING_EVENT_TYPE', issues: [{ path: '/event/event_type', message: 'cannot determine event type: event_type not provided or empty' }] }
  }
  if (!Object.hasOwn(V3_TYPES, type)) {
    return { ok: false, reason: 'UNKNOWN_EVENT_TYPE', issues: [{ path: '/event/event_type', message: `no schema for v3 event type ${JSON.stringify(type)}` }] }
  }
  if (!V3EventCheck.Check(raw)) return { ok: false, reason: 'INVALID_EVENT', issues: schemaIssues(V3EventCheck, raw, '/event') }
  const dataCheck = V3_DATA_CHECKS.get(String(raw.data && (raw.data as { type?: unknown }).type))
  if (dataCheck && !dataCheck.Check(raw.data)) return { ok: false, reason: 'INVALID_EVENT', issues: schemaIssues(dataCheck, raw.data, '/event/data') }
  const eventId = pagerdutyEventId('v3', String(raw.id), raw)
  return pagerdutyEvent({ schema: V3_SCHEMA, tracker: V3_TRACKER, table: V3_TABLE }, eventId, ctx, collectorVersion, v3EventRow(raw), raw)
}
