/**
 * PagerDuty webhooks v1 (reference/pagerduty_webhooks.md section 1). Every object is open:
 * Snowplow's closed Iglu schema had to be patched for fields PagerDuty added (iglu-central
 * #78, #198). Nullable wherever a real payload carried null; timestamps are plain strings
 * (`" 00:00"` offsets exist), parsed later.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

const open = { additionalProperties: true }
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
export const Opt = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema))

const Str = Type.String()
export const V1User = Type.Object({ id: Opt(Str), name: Opt(Str), email: Opt(Str), html_url: Opt(Str) }, open)

export const V1Incident = Type.Object({
  id: Opt(Str),
  incident_number: Opt(Type.Integer()),
  created_on: Opt(Str),
  status: Opt(Str),
  pending_actions: Opt(Type.Array(Type.Object({ type: Opt(Str), at: Opt(Str) }, open))),
  html_url: Opt(Str),
  incident_key: Opt(Str),
  service: Opt(Type.Object({ id: Opt(Str), name: Opt(Str), html_url: Opt(Str), deleted_at: Opt(Str) }, open)),
  escalation_policy: Opt(Type.Object({ id: Opt(Str), name: Opt(Str), deleted_at: Opt(Str) }, open)),
  assigned_to_user: Opt(V1User),
  trigger_summary_data: Opt(Type.Object({ description: Opt(Str), subject: Opt(Str), client: Opt(Str) }, open)),
  trigger_details_html_url: Opt(Str),
  trigger_type: Opt(Str),
  last_status_change_on: Opt(Str),
  last_status_change_by: Opt(V1User),
  number_of_escalations: Opt(Type.Integer({ minimum: 0 })),
  assigned_to: Opt(Type.Array(Type.Object({ at: Opt(Str), object: Opt(V1User) }, open))),
  resolved_by_user: Opt(V1User),
  urgency: Opt(Str),
}, open)
export type V1Incident = Static<typeof V1Incident>

export const V1Message = Type.Object({
  type: Type.String({ minLength: 1 }),
  id: Opt(Str),
  created_on: Opt(Str),
  data: Type.Object({ incident: V1Incident }, open),
}, open)
export type V1Message = Static<typeof V1Message>

export const V1MessageCheck = TypeCompiler.Compile(V1Message)

/** v1 types (developer docs "Webhook Types"); all load into `com_pagerduty_incident_1`. */
export const V1_TYPES = ['incident.trigger', 'incident.acknowledge', 'incident.unacknowledge', 'incident.resolve', 'incident.assign', 'incident.escalate', 'incident.delegate'] as const
