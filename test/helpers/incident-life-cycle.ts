/**
 * A scripted incident life cycle in each webhook version, with known PagerDuty timestamps,
 * and the MTTA/MTTR figures it must give (sql/queries/mtta_mttr*.sql), so the figures are exact.
 */
import { fixtureJson } from './fixtures.ts'

type Json = Record<string, unknown>
/** The agent of step n of an incident: who acknowledged or resolved it, in atomic.pagerduty_incidents. */
const agent = (incident: string, n: number): string => `U-${incident}-${n}`
/** The incident's status after each type of step, as PagerDuty reports it. */
const STATUS: Record<string, string> = { 'incident.triggered': 'triggered', 'incident.acknowledged': 'acknowledged', 'incident.unacknowledged': 'triggered', 'incident.resolved': 'resolved' }
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** [PagerDuty type in v3's words, when] for one incident. */
export type Step = [string, string]

const V1_TYPES: Record<string, string> = { 'incident.triggered': 'incident.trigger', 'incident.acknowledged': 'incident.acknowledge', 'incident.unacknowledged': 'incident.unacknowledge', 'incident.resolved': 'incident.resolve' }

function v1Body(incident: string, service: string, [type, at]: Step, n: number): string {
  const message = clone((fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Json[] }).messages[0]!)
  const data = message.data as { incident: Json }
  Object.assign(message, { id: `v1-${incident}-${n}`, type: V1_TYPES[type], created_on: at })
  Object.assign(data.incident, { id: incident, service: { ...(data.incident.service as Json), name: service }, status: STATUS[type], last_status_change_by: { id: agent(incident, n), type: 'user' } })
  return JSON.stringify({ messages: [message] })
}

function v2Body(incident: string, service: string, [type, at]: Step, n: number): string {
  const message = clone((fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Json[] }).messages[0]!)
  const i = message.incident as Json
  Object.assign(message, { id: `v2-${incident}-${n}`, event: V1_TYPES[type], created_on: at })
  Object.assign(i, { id: incident, service: { ...(i.service as Json), name: service }, status: STATUS[type] })
  Object.assign((message.log_entries as Json[])[0] as Json, { agent: { id: agent(incident, n), type: 'user_reference' } })
  return JSON.stringify({ messages: [message] })
}

function v3Body(incident: string, service: string, [type, at]: Step, n: number): string {
  const body = clone(fixtureJson('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json') as { event: Json })
  const data = body.event.data as Json
  Object.assign(body.event, { id: `v3-${incident}-${n}`, event_type: type, occurred_at: at, agent: { id: agent(incident, n), type: 'user_reference' } })
  Object.assign(data, { id: incident, service: { ...(data.service as Json), summary: service }, status: STATUS[type] })
  return JSON.stringify(body)
}

// MTTA = first acknowledgement - trigger; MTTR = resolution - trigger; per service.
export const SCRIPT: [typeof v1Body, string, string, Step[]][] = [
  // v1: acknowledged after 150 s, unacknowledged, acknowledged again (not the first), resolved after 1800 s.
  [v1Body, 'PLIFE11', 'Checkout (v1)', [['incident.triggered', '2024-03-01T10:00:00Z'], ['incident.acknowledged', '2024-03-01T10:02:30Z'], ['incident.unacknowledged', '2024-03-01T10:32:30Z'], ['incident.acknowledged', '2024-03-01T10:40:00Z'], ['incident.resolved', '2024-03-01T10:30:00+00:00']]],
  // v2: offsets other than Z are converted to UTC: ack after 90 s, resolve after 2700 s.
  [v2Body, 'PLIFE21', 'Checkout (v2)', [['incident.triggered', '2024-03-01T11:00:00+01:00'], ['incident.acknowledged', '2024-03-01T10:01:30Z'], ['incident.resolved', '2024-03-01T10:45:00Z']]],
  // v3, two incidents on one service: (42.25 + 60) / 2 = 51.125 s and (1200.5 + 600) / 2 = 900.25 s.
  [v3Body, 'PLIFE31', 'Checkout (v3)', [['incident.triggered', '2024-03-01T10:00:00.000Z'], ['incident.acknowledged', '2024-03-01T10:00:42.250Z'], ['incident.resolved', '2024-03-01T10:20:00.500Z']]],
  [v3Body, 'PLIFE32', 'Checkout (v3)', [['incident.triggered', '2024-03-02T09:00:00.000Z'], ['incident.acknowledged', '2024-03-02T09:01:00.000Z'], ['incident.resolved', '2024-03-02T09:10:00.000Z']]],
]

/** `[name, body]` of every delivery in SCRIPT, resolve first: the figures use PagerDuty's times, not ours. */
export function lifeCycleDeliveries(): [string, string][] {
  return SCRIPT.flatMap(([build, incident, service, steps]) =>
    [...steps.entries()].reverse().map(([n, step]): [string, string] => [`${incident}/${n}`, build(incident, service, step, n)]))
}

/** What the MTTA/MTTR query returns for SCRIPT. */
export const FIGURES = [
  // The service ids are the fixtures' (each version's fixture names another service).
  { service_name: 'Checkout (v1)', service_id: 'PDS1SN6', incidents: '1', mtta_seconds: '150.000', mttr_seconds: '1800.000' },
  { service_name: 'Checkout (v2)', service_id: 'PN49J75', incidents: '1', mtta_seconds: '90.000', mttr_seconds: '2700.000' },
  { service_name: 'Checkout (v3)', service_id: 'PAJBUTT', incidents: '2', mtta_seconds: '51.125', mttr_seconds: '900.250' },
]

/**
 * atomic.pagerduty_incidents for SCRIPT (selected columns, as text): the first acknowledgement
 * and resolution and their agents, the seconds between, the latest status. v1's incident was
 * acknowledged again after an unacknowledge, at 10:40, after its resolution at 10:30 by
 * PagerDuty's times: its latest event is that second acknowledgement.
 */
export const INCIDENTS = [
  { incident_id: 'PLIFE11', webhook_version: 'v1', service_name: 'Checkout (v1)', incident_status: 'acknowledged', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:02:30', acknowledged_by: 'U-PLIFE11-1', resolved_at: '2024-03-01 10:30:00', resolved_by: 'U-PLIFE11-4', seconds_to_acknowledge: '150.000', seconds_to_resolve: '1800.000', events: '5', last_event_at: '2024-03-01 10:40:00' },
  { incident_id: 'PLIFE21', webhook_version: 'v2', service_name: 'Checkout (v2)', incident_status: 'resolved', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:30', acknowledged_by: 'U-PLIFE21-1', resolved_at: '2024-03-01 10:45:00', resolved_by: 'U-PLIFE21-2', seconds_to_acknowledge: '90.000', seconds_to_resolve: '2700.000', events: '3', last_event_at: '2024-03-01 10:45:00' },
  { incident_id: 'PLIFE31', webhook_version: 'v3', service_name: 'Checkout (v3)', incident_status: 'resolved', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:00:42.25', acknowledged_by: 'U-PLIFE31-1', resolved_at: '2024-03-01 10:20:00.5', resolved_by: 'U-PLIFE31-2', seconds_to_acknowledge: '42.250', seconds_to_resolve: '1200.500', events: '3', last_event_at: '2024-03-01 10:20:00.5' },
  { incident_id: 'PLIFE32', webhook_version: 'v3', service_name: 'Checkout (v3)', incident_status: 'resolved', triggered_at: '2024-03-02 09:00:00', acknowledged_at: '2024-03-02 09:01:00', acknowledged_by: 'U-PLIFE32-1', resolved_at: '2024-03-02 09:10:00', resolved_by: 'U-PLIFE32-2', seconds_to_acknowledge: '60.000', seconds_to_resolve: '600.000', events: '3', last_event_at: '2024-03-02 09:10:00' },
]

/** The columns of INCIDENTS, as text, from the view in `schema`. */
export const INCIDENTS_QUERY = (schema = 'atomic'): string => `select incident_id, webhook_version, service_name, incident_status,
  triggered_at::text, acknowledged_at::text, acknowledged_by, resolved_at::text, resolved_by,
  seconds_to_acknowledge::text, seconds_to_resolve::text, events::text, last_event_at::text
  from ${schema}.pagerduty_incidents order by incident_id`
