/**
 * One v1 message -> one `atomic.events` row + one `com_pagerduty_incident_1` row, with
 * Snowplow's rewrites: `type` loses its `incident.` prefix, "null" strings become NULL,
 * timestamps (any offset, `" 00:00"` included) are stored in UTC.
 */
import type { RequestContext, Row, SchemaKey } from '../../events/event.ts'
import { pagerdutyEventId } from '../../events/event-id.ts'
import { toUtcTimestamp } from '../../events/timestamp.ts'
import { field, int, json, str, type Obj } from './cells.ts'
import { nullifyNullStrings, stripIncidentPrefix } from './reformat.ts'
import { V1MessageCheck, V1_TYPES, type V1Message } from './v1-schema.ts'
import { pagerdutyEvent, schemaIssues, type MessageOutcome } from './message.ts'

export const V1_SCHEMA: SchemaKey = { vendor: 'com.pagerduty', name: 'incident', format: 'jsonschema', version: '1-0-0' }
export const V1_TABLE = 'com_pagerduty_incident_1'
export const V1_TRACKER = 'com.pagerduty-v1'

const known = new Set<string>(V1_TYPES)

function userColumns(prefix: string, user: Obj): Row {
  return {
    [`${prefix}.id`]: str(field(user, 'id')),
    [`${prefix}.name`]: str(field(user, 'name')),
    [`${prefix}.email`]: str(field(user, 'email')),
    [`${prefix}.html_url`]: str(field(user, 'html_url')),
  }
}

export function v1IncidentRow(message: V1Message): Row {
  const i = message.data.incident
  const service = i.service as Obj
  const policy = i.escalation_policy as Obj
  const summary = i.trigger_summary_data as Obj
  return {
    id: str(message.id),
    created_on: toUtcTimestamp(message.created_on),
    type: stripIncidentPrefix(message.type),
    'data.incident.id': str(i.id),
    'data.incident.incident_number': int(i.incident_number),
    'data.incident.created_on': toUtcTimestamp(i.created_on),
    'data.incident.status': str(i.status),
    'data.incident.html_url': str(i.html_url),
    'data.incident.incident_key': str(i.incident_key),
    'data.incident.service.id': str(field(service, 'id')),
    'data.incident.service.name': str(field(service, 'name')),
    'data.incident.service.html_url': str(field(service, 'html_url')),
    'data.incident.service.deleted_at': toUtcTimestamp(field(service, 'deleted_at')),
    'data.incident.escalation_policy.id': str(field(policy, 'id')),
    'data.incident.escalation_policy.name': str(field(policy, 'name')),
    'data.incident.escalation_policy.deleted_at': toUtcTimestamp(field(policy, 'deleted_at')),
    ...userColumns('data.incident.assigned_to_user', i.assigned_to_user as Obj),
    'data.incident.trigger_summary_data.description': str(field(summary, 'description')),
    'data.incident.trigger_summary_data.subject': str(field(summary, 'subject')),
    'data.incident.trigger_summary_data.client': str(field(summary, 'client')),
    'data.incident.trigger_details_html_url': str(i.trigger_details_html_url),
    'data.incident.trigger_type': str(i.trigger_type),
    'data.incident.last_status_change_on': toUtcTimestamp(i.last_status_change_on),
    ...userColumns('data.incident.last_status_change_by', i.last_status_change_by as Obj),
    'data.incident.number_of_escalations': int(i.number_of_escalations),
    'data.incident.assigned_to': json(i.assigned_to),
    ...userColumns('data.incident.resolved_by_user', i.resolved_by_user as Obj),
    'data.incident.pending_actions': json(i.pending_actions),
    'data.incident.urgency': str(i.urgency),
  }
}

/** A v1 message (already known to be an object with a `type`) -> its event, or why not. */
export function v1Message(raw: Record<string, unknown>, index: number, ctx: RequestContext, collectorVersion: string): MessageOutcome {
  const type = raw.type
  if (typeof type !== 'string' || type === '') {
    return { ok: false, reason: 'MISSING_EVENT_TYPE', issues: [{ path: `/messages/${index}/type`, message: 'cannot determine event type: type not provided or empty' }] }
  }
  if (!known.has(type)) {
    return { ok: false, reason: 'UNKNOWN_EVENT_TYPE', issues: [{ path: `/messages/${index}/type`, message: `no schema for v1 type ${JSON.stringify(type)}` }] }
  }
  const message = nullifyNullStrings(raw)
  if (!V1MessageCheck.Check(message)) {
    return { ok: false, reason: 'INVALID_MESSAGE', issues: schemaIssues(V1MessageCheck, message, `/messages/${index}`) }
  }
  const eventId = pagerdutyEventId('v1', str(message.id) ?? undefined, raw)
  return pagerdutyEvent({ schema: V1_SCHEMA, tracker: V1_TRACKER, table: V1_TABLE }, eventId, ctx, collectorVersion, v1IncidentRow(message), raw)
}
