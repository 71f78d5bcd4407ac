/**
 * PagerDuty webhooks v2 ("Generic V2 Webhook", reference/pagerduty_webhooks.md section 2):
 * `{"messages": [{id, event, created_on, incident, log_entries, webhook}]}`. `incident` is
 * the REST API v2 incident, `service` the full service object. Every object is open and
 * every field optional or nullable: PagerDuty adds fields (`account_id`, `account_features`
 * in a real capture) and the docs mark several nullable.
 */
import { Type, type Static } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { SchemaKey } from '../../events/event.ts'
import { selfDescribing } from './self-describing.ts'
import { Opt } from './v1-schema.ts'

const open = { additionalProperties: true }
const Str = Type.String()

export const V2_SCHEMA: SchemaKey = { vendor: 'com.pagerduty', name: 'webhook_v2_message', format: 'jsonschema', version: '1-0-0' }

/** A REST API reference (`{id, type, summary, self, html_url}`); services are full objects. */
export const V2Reference = Type.Object({ id: Opt(Str), type: Opt(Str), summary: Opt(Str), name: Opt(Str), self: Opt(Str), html_url: Opt(Str) }, open)

export const V2Incident = Type.Object({
  id: Opt(Str),
  incident_number: Opt(Type.Integer()),
  title: Opt(Str),
  description: Opt(Str),
  created_at: Opt(Str),
  status: Opt(Str),
  incident_key: Opt(Str),
  html_url: Opt(Str),
  service: Opt(V2Reference),
  escalation_policy: Opt(V2Reference),
  priority: Opt(V2Reference),
  urgency: Opt(Str),
  assignments: Opt(Type.Array(Type.Object({ at: Opt(Str), assignee: Opt(V2Reference) }, open))),
  acknowledgements: Opt(Type.Array(Type.Object({ at: Opt(Str), acknowledger: Opt(V2Reference) }, open))),
  last_status_change_at: Opt(Str),
  last_status_change_by: Opt(V2Reference),
  teams: Opt(Type.Array(V2Reference)),
  resolve_reason: Opt(Type.Unknown()),
}, open)

export const V2LogEntry = Type.Object({
  id: Opt(Str),
  type: Opt(Str),
  summary: Opt(Str),
  created_at: Opt(Str),
  agent: Opt(V2Reference),
  channel: Opt(Type.Object({ type: Opt(Str), summary: Opt(Str) }, open)),
}, open)

export const V2Message = Type.Object({
  event: Type.String({ minLength: 1 }),
  id: Opt(Str),
  created_on: Opt(Str),
  incident: V2Incident,
  log_entries: Opt(Type.Array(V2LogEntry)),
  webhook: Opt(V2Reference),
}, selfDescribing(V2_SCHEMA, 'One message of a PagerDuty v2 webhook (developer docs, webhooks/09-V2-Overview.md)'))
export type V2Message = Static<typeof V2Message>

export const V2MessageCheck = TypeCompiler.Compile(V2Message)

/** The eight v2 types (developer docs "Webhook Types"; OpenAPI `WebhookIncidentAction.type`). */
export const V2_TYPES = ['incident.trigger', 'incident.acknowledge', 'incident.unacknowledge', 'incident.resolve', 'incident.assign', 'incident.escalate', 'incident.delegate', 'incident.annotate'] as const
