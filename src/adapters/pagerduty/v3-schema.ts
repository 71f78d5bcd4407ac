/**
 * PagerDuty webhooks v3 (webhook subscriptions, reference/pagerduty_webhooks.md section 3):
 * `{"event": {id, event_type, resource_type, occurred_at, agent, client, data}}`, one event
 * per delivery. `data`'s shape follows `data.type` (developer docs "Event Data Types"); each
 * known shape is checked, an unknown shape is kept whole. Everything is open and nullable
 * where PagerDuty sends null or omits: `agent`, `client` (absent in pings and some service
 * events), `priority`, `conference_bridge`, `resolve_reason`, `incident_key`, `created_at`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { SchemaKey } from '../../events/event.ts'
import { selfDescribing } from './self-describing.ts'
import { Opt } from './v1-schema.ts'

const open = { additionalProperties: true }
const Str = Type.String()

export const V3_SCHEMA: SchemaKey = { vendor: 'com.pagerduty', name: 'webhook_v3_event', format: 'jsonschema', version: '1-0-0' }

/** `{id, type, summary, self, html_url}`; ids are 7-char `P...` or 14-char `Q...`. */
export const V3Reference = Type.Object({ id: Opt(Str), type: Opt(Str), summary: Opt(Str), self: Opt(Str), html_url: Opt(Str) }, open)
const Refs = Opt(Type.Array(V3Reference))

export const V3Incident = Type.Object({
  id: Opt(Str),
  number: Opt(Type.Integer()),
  status: Opt(Str),
  title: Opt(Str),
  incident_key: Opt(Str),
  created_at: Opt(Str),
  reopened_at: Opt(Str),
  html_url: Opt(Str),
  incident_type: Opt(Type.Object({ name: Opt(Str) }, open)),
  service: Opt(V3Reference),
  assignees: Refs,
  escalation_policy: Opt(V3Reference),
  teams: Refs,
  priority: Opt(V3Reference),
  urgency: Opt(Str),
  // go-pagerduty's signature test body sends the number 1000; real payloads send a string.
  conference_bridge: Opt(Type.Object({ conference_number: Opt(Type.Union([Str, Type.Number()])), conference_url: Opt(Str) }, open)),
  resolve_reason: Opt(Type.Object({ type: Opt(Str), incident: Opt(V3Reference) }, open)),
}, open)

const WithIncident = (fields: Record<string, TSchema>) => Type.Object({ incident: Opt(V3Reference), ...fields }, open)
const FieldValues = Opt(Type.Array(Type.Object({ id: Opt(Str), name: Opt(Str), data_type: Opt(Str), field_type: Opt(Str) }, open)))

/** The documented `data` shapes, by `data.type`. */
export const V3_DATA: Record<string, TSchema> = {
  incident: V3Incident,
  incident_note: WithIncident({ id: Opt(Str), content: Opt(Str), trimmed: Opt(Type.Boolean()) }),
  incident_conference_bridge: WithIncident({ conference_numbers: Opt(Type.Array(Type.Object({ label: Opt(Str), number: Opt(Str) }, open))), conference_url: Opt(Str) }),
  incident_field_values: WithIncident({ custom_fields: FieldValues, changed_custom_fields: FieldValues }),
  incident_responder: WithIncident({ user: Opt(V3Reference), escalation_policy: Opt(V3Reference), message: Opt(Str), state: Opt(Str) }),
  incident_role_assignment: Type.Object({ incident_role_assignments: Opt(Type.Array(Type.Object({ incident: Opt(V3Reference), assignee: Opt(V3Reference), role: Opt(V3Reference) }, open))) }, open),
  incident_status_update: WithIncident({ id: Opt(Str), message: Opt(Str), trimmed: Opt(Type.Boolean()) }),
  incident_task: WithIncident({ id: Opt(Str), name: Opt(Str), status: Opt(Str), assignees: Refs }),
  incident_workflow_instance: WithIncident({ id: Opt(Str), service: Opt(V3Reference), incident_workflow: Opt(V3Reference) }),
  incident_action_invocation: WithIncident({ id: Opt(Str), state: Opt(Str) }),
  service: Type.Object({ id: Opt(Str), summary: Opt(Str), html_url: Opt(Str), teams: Refs }, open),
  service_field_values: Type.Object({ service: Opt(V3Reference), custom_fields: FieldValues, changed_custom_fields: FieldValues }, open),
  ping: Type.Object({ message: Opt(Str) }, open),
}

export const V3_DATA_CHECKS: ReadonlyMap<string, TypeCheck<TSchema>> = new Map(Object.entries(V3_DATA).map(([k, s]) => [k, TypeCompiler.Compile(s)]))

export const V3Event = Type.Object({
  // Opaque: ULIDs, UUIDs and 38-digit decimals seen, always as strings; never pattern-checked.
  // A number is taken only while exact: past 2^53 JSON.parse rounds it, and two events
  // would get one event_id (the second silently dropped as a duplicate).
  id: Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })]),
  event_type: Type.String({ minLength: 1 }),
  resource_type: Opt(Str),
  occurred_at: Opt(Str),
  agent: Opt(V3Reference),
  client: Opt(Type.Object({ name: Opt(Str), url: Opt(Str) }, open)),
  data: Type.Object({ type: Opt(Str) }, open),
}, selfDescribing(V3_SCHEMA, 'One PagerDuty v3 webhook event (developer docs, webhooks/01-Overview.md)'))
export type V3Event = Static<typeof V3Event>

export const V3EventCheck = TypeCompiler.Compile(V3Event)

/** `pagey.ping`: a subscription test (POST /webhook_subscriptions/{id}/ping), not an event. */
export const V3_PING = 'pagey.ping'

/**
 * The GA event types (developer docs, webhooks/01-Overview.md "Event Types") with the
 * `data.type` each carries. All load into `com_pagerduty_webhook_v3_event_1`.
 */
export const V3_TYPES: Readonly<Record<string, string>> = {
  'incident.acknowledged': 'incident',
  'incident.annotated': 'incident_note',
  'incident.conference_bridge.updated': 'incident_conference_bridge',
  'incident.custom_field_values.updated': 'incident_field_values',
  'incident.delegated': 'incident',
  'incident.escalated': 'incident',
  'incident.incident_type.changed': 'incident',
  'incident.priority_updated': 'incident',
  'incident.reassigned': 'incident',
  'incident.reopened': 'incident',
  'incident.resolved': 'incident',
  'incident.responder.added': 'incident_responder',
  'incident.responder.replied': 'incident_responder',
  'incident.role.assigned': 'incident_role_assignment',
  'incident.service_updated': 'incident',
  'incident.status_update_published': 'incident_status_update',
  'incident.task.completed': 'incident_task',
  'incident.task.created': 'incident_task',
  'incident.task.updated': 'incident_task',
  'incident.triggered': 'incident',
  'incident.unacknowledged': 'incident',
  'incident.action_invocation.created': 'incident_action_invocation',
  'incident.action_invocation.terminated': 'incident_action_invocation',
  'incident.action_invocation.updated': 'incident_action_invocation',
  'incident.workflow.started': 'incident_workflow_instance',
  'incident.workflow.completed': 'incident_workflow_instance',
  'service.created': 'service',
  'service.deleted': 'service',
  'service.updated': 'service',
  'service.custom_field_values.updated': 'service_field_values',
}
