/**
 * One v2 message -> one `atomic.events` row + one `com_pagerduty_webhook_v2_message_1` row:
 * the incident's fields analysts filter on, the first log entry (type, agent, channel: the
 * who and how of this change), and the message as received in `raw_message`. `event` is kept
 * as PagerDuty sends it (`incident.trigger`); the view maps it to v3's vocabulary.
 */
import type { RequestContext, Row } from '../../events/event.ts'
import { pagerdutyEventId } from '../../events/event-id.ts'
import { toUtcTimestamp } from '../../events/timestamp.ts'
import { at, int, json, str } from './cells.ts'
import { pagerdutyEvent, schemaIssues, type MessageOutcome } from './message.ts'
import { V2MessageCheck, V2_SCHEMA, V2_TYPES, type V2Message } from './v2-schema.ts'

export { V2_SCHEMA }
export const V2_TABLE = 'com_pagerduty_webhook_v2_message_1'
export const V2_TRACKER = 'com.pagerduty-v2'

const known = new Set<string>(V2_TYPES)

function referenceColumns(prefix: string, ref: unknown, name: 'summary' | 'name' = 'summary'): Row {
  return {
    [`${prefix}.id`]: str(at(ref, 'id')),
    // Services are full objects in v2 (`name` and `summary`); other references only have `summary`.
    [`${prefix}.${name}`]: name === 'name' ? str(at(ref, 'name')) ?? str(at(ref, 'summary')) : str(at(ref, 'summary')),
  }
}

export function v2MessageRow(message: V2Message): Row {
  const i = message.incident
  const entry = message.log_entries?.[0]
  return {
    id: str(message.id),
    event: message.event,
    created_on: toUtcTimestamp(message.created_on),
    'incident.id': str(i.id),
    'incident.incident_number': int(i.incident_number),
    'incident.title': str(i.title) ?? str(i.description),
    'incident.status': str(i.status),
    'incident.urgency': str(i.urgency),
    'incident.incident_key': str(i.incident_key),
    'incident.html_url': str(i.html_url),
    'incident.created_at': toUtcTimestamp(i.created_at),
    'incident.last_status_change_at': toUtcTimestamp(i.last_status_change_at),
    ...referenceColumns('incident.last_status_change_by', i.last_status_change_by),
    'incident.last_status_change_by.type': str(at(i.last_status_change_by, 'type')),
    ...referenceColumns('incident.priority', i.priority),
    ...referenceColumns('incident.service', i.service, 'name'),
    ...referenceColumns('incident.escalation_policy', i.escalation_policy),
    'incident.assignments': json(i.assignments),
    'incident.acknowledgements': json(i.acknowledgements),
    'incident.teams': json(i.teams),
    'incident.resolve_reason': json(i.resolve_reason),
    'log_entries[0].id': str(at(entry, 'id')),
    'log_entries[0].type': str(at(entry, 'type')),
    'log_entries[0].created_at': toUtcTimestamp(at(entry, 'created_at')),
    'log_entries[0].agent.id': str(at(entry, 'agent', 'id')),
    'log_entries[0].agent.type': str(at(entry, 'agent', 'type')),
    'log_entries[0].agent.summary': str(at(entry, 'agent', 'summary')),
    'log_entries[0].channel.type': str(at(entry, 'channel', 'type')),
    'log_entries[0].channel.summary': str(at(entry, 'channel', 'summary')),
    log_entries: json(message.log_entries),
    'webhook.id': str(at(message.webhook, 'id')),
    'webhook.name': str(at(message.webhook, 'name')),
  }
}

/** A v2 message (already known to be an object with an `event`) -> its event, or why not. */
export function v2Message(raw: Record<string, unknown>, index: number, ctx: RequestContext, collectorVersion: string): MessageOutcome {
  const type = raw.event
  if (typeof type !== 'string' || type === '') {
    return { ok: false, reason: 'MISSING_EVENT_TYPE', issues: [{ path: `/messages/${index}/event`, message: 'cannot determine event type: event not provided or empty' }] }
  }
  if (!known.has(type)) {
    return { ok: false, reason: 'UNKNOWN_EVENT_TYPE', issues: [{ path: `/messages/${index}/event`, message: `no schema for v2 event ${JSON.stringify(type)}` }] }
  }
  if (!V2MessageCheck.Check(raw)) {
    return { ok: false, reason: 'INVALID_MESSAGE', issues: schemaIssues(V2MessageCheck, raw, `/messages/${index}`) }
  }
  const eventId = pagerdutyEventId('v2', str(raw.id) ?? undefined, raw)
  return pagerdutyEvent({ schema: V2_SCHEMA, tracker: V2_TRACKER, table: V2_TABLE }, eventId, ctx, collectorVersion, v2MessageRow(raw), raw)
}
