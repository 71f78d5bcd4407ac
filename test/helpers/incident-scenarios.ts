/**
 * Incident life cycles beyond the scripted one (test/helpers/incident-life-cycle.ts), as
 * PagerDuty delivers them: unacknowledged and acknowledged again, resolved and reopened,
 * the v3 events that change no status, deliveries out of order, the same change from a v2 and
 * a v3 subscription, an incident whose trigger was never received, local offsets across a
 * DST change, an incident moved to another service, a service renamed between two incidents,
 * changes in the same second, changes made by a service or an integration rather than a person,
 * and incidents merged into another. Each with the atomic.pagerduty_incidents row a careful reader
 * of PagerDuty's docs expects.
 */
import { uuidV5 } from '../../src/events/event-id.ts'
import type { RequestContext } from '../../src/events/event.ts'
import { fixtureJson } from './fixtures.ts'
import { contextFor } from './load.ts'

type Json = Record<string, unknown>
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T

/** One delivery: its name, body and request context. */
export type Delivery = [string, string, RequestContext]

const service = (incident: string, suffix = '') => ({ id: `S${incident}${suffix}`, name: `Svc ${incident}${suffix}` })
const title = (incident: string) => `Title of ${incident}`
const url = (incident: string) => `https://acme.pagerduty.com/incidents/${incident}`
const user = (id: string) => ({ id, type: 'user_reference', summary: `User ${id}` })
const withAid = (name: string, aid: string): RequestContext => ({ ...contextFor(name), query: { aid } })
/**
 * When PagerDuty created each incident (every version's incident carries it), where not at
 * 10:00:00Z; null: a payload without it.
 */
const CREATED: Record<string, string | null> = {
  PACCT2: '2024-03-01T10:00:05Z', PDST: '2024-03-10T01:59:30-08:00', PNOTRIGGER1: '2024-03-01T09:58:30Z',
  PNOCREATED: null, PRENAME2: '2024-03-02T10:00:00Z',
  // A second before its trigger's occurred_at: the seconds count from the trigger all the same.
  PLATE: '2024-03-01T09:59:59Z',
  PDSTFALL: '2024-11-03T01:50:00-07:00', PMIDNIGHT: '2024-12-31T23:59:59Z', PDOCS1: '2016-02-22T21:02:55Z',
}
const createdAt = (incident: string): string | null => (incident in CREATED ? CREATED[incident]! : '2024-03-01T10:00:00Z')

interface V3Options { agent?: Json | null; status?: string; service?: { id: string; name: string }; number?: number; id?: string; resolveReason?: Json }
const V3_STATUS: Record<string, string> = { 'incident.triggered': 'triggered', 'incident.acknowledged': 'acknowledged', 'incident.unacknowledged': 'triggered', 'incident.resolved': 'resolved', 'incident.reopened': 'triggered' }
/** The data of v3 types that only reference their incident (developer docs "Event Data Types"). */
const V3_REFERENCE_DATA: Record<string, (incident: string) => Json> = {
  'incident.annotated': () => ({ type: 'incident_note', id: 'PNOTE1', content: 'Looking at the database', trimmed: false }),
  'incident.responder.added': () => ({ type: 'incident_responder', user: user('PRESP1'), message: 'Please help', state: 'pending' }),
  'incident.status_update_published': () => ({ type: 'incident_status_update', id: 'PSU1', message: 'Mitigated', trimmed: false }),
}

export function v3(incident: string, type: string, at: string, o: V3Options = {}): Delivery {
  const body = clone(fixtureJson('v3', 'incident.triggered__rudder-transformer-incident_triggered_0.json') as { event: Json })
  const id = o.id ?? `v3-${incident}-${type}-${at}`
  const reference = V3_REFERENCE_DATA[type]
  const s = o.service ?? service(incident)
  const data = reference
    ? { ...reference(incident), incident: { id: incident, type: 'incident_reference', summary: title(incident), self: `https://api.pagerduty.com/incidents/${incident}`, html_url: url(incident) } }
    : Object.assign(body.event.data as Json, { id: incident, number: o.number ?? 100, title: title(incident), html_url: url(incident), status: o.status ?? V3_STATUS[type] ?? 'triggered', service: { id: s.id, summary: s.name, type: 'service_reference' }, created_at: createdAt(incident) ?? undefined, resolve_reason: o.resolveReason ?? null })
  Object.assign(body.event, { id, event_type: type, occurred_at: at, agent: o.agent === undefined ? user(`U-${incident}`) : o.agent, data })
  return [id, JSON.stringify(body), contextFor(id)]
}

interface V1Message { id: string; type: string; at: string; by: string | null; status: string }
/** One v1 body of one or more messages (PagerDuty batches changes made in quick succession). */
export function v1(incident: string, messages: V1Message[]): Delivery {
  const template = (fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Json[] }).messages[0]!
  const s = service(incident)
  const body = {
    messages: messages.map((m) => {
      const message = clone(template)
      const i = (message.data as { incident: Json }).incident
      Object.assign(message, { id: m.id, type: m.type, created_on: m.at })
      Object.assign(i, { id: incident, incident_number: 200, created_on: createdAt(incident) ?? undefined, status: m.status, html_url: url(incident), service: { ...(i.service as Json), ...s }, trigger_summary_data: { subject: title(incident) }, last_status_change_on: m.at, last_status_change_by: m.by === null ? null : { id: m.by, name: `User ${m.by}`, email: `${m.by}@example.com` } })
      return message
    }),
  }
  return [`v1-${incident}-${messages[0]!.id}`, JSON.stringify(body), contextFor(messages[0]!.id)]
}

/** `incidentFields`: more of the message's incident (its resolve_reason, say). */
export function v2(incident: string, id: string, event: string, at: string, agent: Json | null, status: string, s = service(incident), incidentFields: Json = {}): Delivery {
  const message = clone((fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Json[] }).messages[0]!)
  const i = message.incident as Json
  Object.assign(message, { id, event, created_on: at })
  Object.assign(i, { id: incident, incident_number: 100, title: title(incident), html_url: url(incident), created_at: createdAt(incident) ?? undefined, status, service: { ...(i.service as Json), id: s.id, name: s.name, summary: s.name }, ...incidentFields })
  Object.assign((message.log_entries as Json[])[0]!, { agent, created_at: at })
  return [id, JSON.stringify({ messages: [message] }), contextFor(id)]
}

/**
 * Two message ids for one incident whose event ids (UUIDv5 of the id) sort as asked, so a
 * tie at the same occurred_at cannot be settled right by chance: `laterFirst` when the
 * earlier change must have the greater event id.
 */
export function orderedIds(version: string, incident: string, laterFirst: boolean): [string, string] {
  const eventId = (id: string) => uuidV5(`com.pagerduty/${version}/id/${id}`)
  const later = `${incident}-later`
  for (let k = 0; ; k++) {
    const earlier = `${incident}-earlier-${k}`
    if ((eventId(earlier) > eventId(later)) === laterFirst) return [earlier, later]
  }
}

const BILLING = { id: 'SRENAME', name: 'Billing' }
const BILLING_API = { id: 'SRENAME', name: 'Billing API' }
const [tieTrigger, tieResolve] = orderedIds('v1', 'PTIE1', true)
const [tieTrigger2, tieAck2] = orderedIds('v2', 'PTIE2', true)

/** Every delivery, in the order they are sent (some deliberately out of PagerDuty's order). */
export const DELIVERIES: Delivery[] = [
  // Acknowledged, unacknowledged (the acknowledgement timed out), acknowledged again, resolved.
  v3('PUNACK3', 'incident.triggered', '2024-03-01T10:00:00.000Z'),
  v3('PUNACK3', 'incident.acknowledged', '2024-03-01T10:01:00.250Z', { agent: user('UA1') }),
  v3('PUNACK3', 'incident.unacknowledged', '2024-03-01T10:31:00.250Z', { agent: null }),
  v3('PUNACK3', 'incident.acknowledged', '2024-03-01T10:35:00.000Z', { agent: user('UA2') }),
  v3('PUNACK3', 'incident.resolved', '2024-03-01T11:00:00.500Z', { agent: user('UA2') }),
  // The same in v1 (unacknowledge: last_status_change_by null, PagerDuty itself).
  v1('PUNACK1', [{ id: 'u1-1', type: 'incident.trigger', at: '2024-03-01T10:00:00Z', by: null, status: 'triggered' }]),
  v1('PUNACK1', [{ id: 'u1-2', type: 'incident.acknowledge', at: '2024-03-01T10:02:00Z', by: 'UB1', status: 'acknowledged' }]),
  v1('PUNACK1', [{ id: 'u1-3', type: 'incident.unacknowledge', at: '2024-03-01T10:32:00Z', by: null, status: 'triggered' }]),
  v1('PUNACK1', [{ id: 'u1-4', type: 'incident.acknowledge', at: '2024-03-01T10:40:00Z', by: 'UB2', status: 'acknowledged' }]),
  v1('PUNACK1', [{ id: 'u1-5', type: 'incident.resolve', at: '2024-03-01T10:50:00Z', by: 'UB2', status: 'resolved' }]),
  // The same in v2, reassigned, escalated, delegated and annotated on the way (v2's other
  // types): an escalation and an unacknowledge name no agent.
  v2('PUNACK2', 'u2-1', 'incident.trigger', '2024-03-01T10:00:00Z', { id: 'SPUNACK2', type: 'service_reference' }, 'triggered'),
  v2('PUNACK2', 'u2-2', 'incident.escalate', '2024-03-01T10:05:00Z', null, 'triggered'),
  v2('PUNACK2', 'u2-3', 'incident.assign', '2024-03-01T10:06:00Z', user('UR1'), 'triggered'),
  v2('PUNACK2', 'u2-4', 'incident.acknowledge', '2024-03-01T10:07:00Z', user('UR2'), 'acknowledged'),
  v2('PUNACK2', 'u2-5', 'incident.annotate', '2024-03-01T10:08:00Z', user('UR2'), 'acknowledged'),
  v2('PUNACK2', 'u2-6', 'incident.unacknowledge', '2024-03-01T10:37:00Z', null, 'triggered'),
  v2('PUNACK2', 'u2-7', 'incident.delegate', '2024-03-01T10:40:00Z', user('UR1'), 'triggered'),
  v2('PUNACK2', 'u2-8', 'incident.acknowledge', '2024-03-01T10:41:00Z', user('UR3'), 'acknowledged'),
  v2('PUNACK2', 'u2-9', 'incident.resolve', '2024-03-01T11:00:00Z', user('UR3'), 'resolved'),
  // The v1 developer docs' incident (PRORDTY #2126, 2016-02-22), each change at its sample's
  // time and status: reassigned and acknowledged in one batch (as the Zulip capture has them),
  // unacknowledged, acknowledged, escalated, delegated, resolved; the resolution delivered
  // before the acknowledgements.
  v1('PDOCS1', [{ id: 'docs-1', type: 'incident.trigger', at: '2016-02-22T21:02:55Z', by: null, status: 'triggered' }]),
  v1('PDOCS1', [{ id: 'docs-8', type: 'incident.resolve', at: '2016-02-22T21:38:30Z', by: 'PFBSJ2Z', status: 'resolved' }]),
  v1('PDOCS1', [
    { id: 'docs-2', type: 'incident.assign', at: '2016-02-22T21:03:21Z', by: 'PFBSJ2Z', status: 'acknowledged' },
    { id: 'docs-3', type: 'incident.acknowledge', at: '2016-02-22T21:03:21Z', by: 'PFBSJ2Z', status: 'acknowledged' },
  ]),
  v1('PDOCS1', [{ id: 'docs-4', type: 'incident.unacknowledge', at: '2016-02-22T21:13:21Z', by: null, status: 'triggered' }]),
  v1('PDOCS1', [{ id: 'docs-5', type: 'incident.acknowledge', at: '2016-02-22T21:13:44Z', by: 'PFBSJ2Z', status: 'acknowledged' }]),
  v1('PDOCS1', [{ id: 'docs-6', type: 'incident.escalate', at: '2016-02-22T21:28:45Z', by: null, status: 'triggered' }]),
  v1('PDOCS1', [{ id: 'docs-7', type: 'incident.delegate', at: '2016-02-22T21:37:49Z', by: null, status: 'triggered' }]),
  // Resolved, reopened (v3 incident.reopened), acknowledged and resolved again.
  v3('PREOPEN', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PREOPEN', 'incident.acknowledged', '2024-03-01T10:02:00Z', { agent: user('UC1') }),
  v3('PREOPEN', 'incident.resolved', '2024-03-01T10:10:00Z', { agent: user('UC1') }),
  v3('PREOPEN', 'incident.reopened', '2024-03-01T12:00:00Z', { agent: user('UC2') }),
  v3('PREOPEN', 'incident.acknowledged', '2024-03-01T12:05:00Z', { agent: user('UC2') }),
  v3('PREOPEN', 'incident.resolved', '2024-03-01T12:30:00Z', { agent: user('UC2') }),
  // Resolved and reopened, open now.
  v3('PREOPENED', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PREOPENED', 'incident.resolved', '2024-03-01T10:20:00Z', { agent: user('UD1') }),
  v3('PREOPENED', 'incident.reopened', '2024-03-01T11:00:00Z', { agent: user('UD2') }),
  // Resolved by its integration before anyone acknowledged it, reopened, then acknowledged:
  // that acknowledgement, after the first resolution, is its first.
  v3('PREOPENACK', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PREOPENACK', 'incident.resolved', '2024-03-01T10:05:00Z', { agent: { id: 'PEVENTS4', type: 'events_api_v2_inbound_integration_reference', summary: 'Monitoring' } }),
  v3('PREOPENACK', 'incident.reopened', '2024-03-01T10:30:00Z', { agent: user('UQ1') }),
  v3('PREOPENACK', 'incident.acknowledged', '2024-03-01T10:32:00Z', { agent: user('UQ1') }),
  v3('PREOPENACK', 'incident.resolved', '2024-03-01T10:40:00Z', { agent: user('UQ1') }),
  // The v3 types that change no status, a note and a status update after the resolution, and
  // an acknowledgement by an integration (agent a service_reference).
  v3('PAUX', 'incident.triggered', '2024-03-01T10:00:00Z', { agent: null }),
  v3('PAUX', 'incident.reassigned', '2024-03-01T10:00:30Z', { status: 'triggered' }),
  v3('PAUX', 'incident.escalated', '2024-03-01T10:01:00Z', { status: 'triggered', agent: null }),
  v3('PAUX', 'incident.delegated', '2024-03-01T10:01:30Z', { status: 'triggered' }),
  v3('PAUX', 'incident.priority_updated', '2024-03-01T10:02:00Z', { status: 'triggered' }),
  v3('PAUX', 'incident.responder.added', '2024-03-01T10:02:30Z'),
  v3('PAUX', 'incident.acknowledged', '2024-03-01T10:03:00Z', { agent: { id: 'PINTEGRATION', type: 'service_reference', summary: 'Monitoring' } }),
  v3('PAUX', 'incident.annotated', '2024-03-01T10:04:00Z'),
  v3('PAUX', 'incident.resolved', '2024-03-01T10:05:00Z', { agent: user('UE1') }),
  v3('PAUX', 'incident.status_update_published', '2024-03-01T10:08:00Z'),
  v3('PAUX', 'incident.annotated', '2024-03-01T10:09:00Z', { id: 'v3-PAUX-second-note' }),
  // Delivered resolve first (the view reads PagerDuty's times, not ours).
  v3('PLATE', 'incident.resolved', '2024-03-01T10:30:00Z', { agent: user('UF1') }),
  v3('PLATE', 'incident.acknowledged', '2024-03-01T10:05:00Z', { agent: user('UF1') }),
  v3('PLATE', 'incident.triggered', '2024-03-01T10:00:00Z'),
  // Triggered before the subscription existed, or its delivery lost: no incident.triggered, in
  // each version; the seconds count from the creation time each event carries.
  v3('PNOTRIGGER', 'incident.acknowledged', '2024-03-01T10:03:00Z', { agent: user('UG1') }),
  v3('PNOTRIGGER', 'incident.resolved', '2024-03-01T10:05:00Z', { agent: user('UG1') }),
  v1('PNOTRIGGER1', [{ id: 'nt1-1', type: 'incident.acknowledge', at: '2024-03-01T10:04:00Z', by: 'UG2', status: 'acknowledged' }]),
  v1('PNOTRIGGER1', [{ id: 'nt1-2', type: 'incident.resolve', at: '2024-03-01T10:10:00Z', by: 'UG2', status: 'resolved' }]),
  v2('PNOTRIGGER2', 'nt2-1', 'incident.acknowledge', '2024-03-01T10:01:00Z', user('UG3'), 'acknowledged'),
  // No trigger and no creation time (a payload without it, then a note): no start, no seconds.
  v3('PNOCREATED', 'incident.acknowledged', '2024-03-01T10:03:00Z', { agent: user('UG4') }),
  v3('PNOCREATED', 'incident.annotated', '2024-03-01T10:04:00Z'),
  // v1 with local offsets across the US DST change of 2024-03-10 (02:00 PST -> 03:00 PDT).
  v1('PDST', [{ id: 'dst-1', type: 'incident.trigger', at: '2024-03-10T01:59:30-08:00', by: null, status: 'triggered' }]),
  v1('PDST', [{ id: 'dst-2', type: 'incident.acknowledge', at: '2024-03-10T03:00:15.500-07:00', by: 'UH1', status: 'acknowledged' }]),
  v1('PDST', [{ id: 'dst-3', type: 'incident.resolve', at: '2024-03-10T11:05:00.125+01:00', by: 'UH1', status: 'resolved' }]),
  // Each change from a v2 and a v3 subscription (v2's times in whole seconds).
  v2('PBOTH', 'both-1', 'incident.trigger', '2024-03-01T10:00:00Z', user('UI1'), 'triggered'),
  v3('PBOTH', 'incident.triggered', '2024-03-01T10:00:00.400Z', { agent: user('UI1') }),
  v2('PBOTH', 'both-2', 'incident.acknowledge', '2024-03-01T10:01:00Z', user('UI2'), 'acknowledged'),
  v3('PBOTH', 'incident.acknowledged', '2024-03-01T10:01:00.700Z', { agent: user('UI2') }),
  v2('PBOTH', 'both-3', 'incident.resolve', '2024-03-01T10:05:00Z', user('UI2'), 'resolved'),
  v3('PBOTH', 'incident.resolved', '2024-03-01T10:05:00.900Z', { agent: user('UI2') }),
  // Moved to another service (incident.service_updated) before its resolution.
  v3('PMOVED', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PMOVED', 'incident.annotated', '2024-03-01T10:00:30Z'),
  v3('PMOVED', 'incident.service_updated', '2024-03-01T10:01:00Z', { status: 'triggered', service: service('PMOVED', '-B') }),
  v3('PMOVED', 'incident.resolved', '2024-03-01T10:02:00Z', { agent: null, service: service('PMOVED', '-B') }),
  // A service renamed between two incidents (PagerDuty sends no event for that), and a note on
  // the first incident after the rename, which the events view gives the incident's service
  // as its events named it, the old name.
  v3('PRENAME1', 'incident.triggered', '2024-03-01T10:00:00Z', { service: BILLING }),
  v3('PRENAME1', 'incident.acknowledged', '2024-03-01T10:02:00Z', { service: BILLING }),
  v3('PRENAME1', 'incident.resolved', '2024-03-01T10:10:00Z', { service: BILLING }),
  v2('PRENAME2', 'rename-1', 'incident.trigger', '2024-03-02T10:00:00Z', user('UK0'), 'triggered', BILLING_API),
  v2('PRENAME2', 'rename-2', 'incident.acknowledge', '2024-03-02T10:04:00Z', user('UK1'), 'acknowledged', BILLING_API),
  v2('PRENAME2', 'rename-3', 'incident.resolve', '2024-03-02T10:20:00Z', user('UK1'), 'resolved', BILLING_API),
  v3('PRENAME1', 'incident.annotated', '2024-03-03T09:00:00Z'),
  // Incident #7 of two PagerDuty accounts (two app ids).
  [...v3('PACCT1', 'incident.triggered', '2024-03-01T10:00:00Z', { number: 7 }).slice(0, 2), withAid('acct1', 'acme')] as Delivery,
  [...v3('PACCT2', 'incident.triggered', '2024-03-01T10:00:05Z', { number: 7 }).slice(0, 2), withAid('acct2', 'globex')] as Delivery,
  // Triggered and resolved in the same second, batched in one v1 body (a flapping check
  // auto-resolved): v1 times are whole seconds, so the two tie.
  v1('PTIE1', [
    { id: tieTrigger, type: 'incident.trigger', at: '2024-03-01T10:00:00Z', by: null, status: 'triggered' },
    { id: tieResolve, type: 'incident.resolve', at: '2024-03-01T10:00:00Z', by: null, status: 'resolved' },
  ]),
  // Triggered and acknowledged in the same second (an automatic acknowledgement), v2.
  v2('PTIE2', tieTrigger2, 'incident.trigger', '2024-03-01T10:00:00Z', user('UJ1'), 'triggered'),
  v2('PTIE2', tieAck2, 'incident.acknowledge', '2024-03-01T10:00:00Z', { id: 'PINTEGRATION2', type: 'service_reference' }, 'acknowledged'),
  // Acknowledged by a person, resolved by something else, in each version: v3 by the monitoring
  // tool's Events API integration (a *_integration_reference agent), v2 by the service itself
  // (a service_reference agent), v1 with last_status_change_by null (v1 names users only).
  v3('PAUTO3', 'incident.triggered', '2024-03-01T10:00:00Z', { agent: { id: 'PEVENTS3', type: 'generic_events_api_inbound_integration_reference', summary: 'Monitoring' } }),
  v3('PAUTO3', 'incident.acknowledged', '2024-03-01T10:02:00Z', { agent: user('UL1') }),
  v3('PAUTO3', 'incident.resolved', '2024-03-01T10:10:00Z', { agent: { id: 'PEVENTS3', type: 'events_api_v2_inbound_integration_reference', summary: 'Monitoring' } }),
  v2('PAUTO2', 'auto2-1', 'incident.trigger', '2024-03-01T10:00:00Z', { id: 'SPAUTO2', type: 'service_reference' }, 'triggered'),
  v2('PAUTO2', 'auto2-2', 'incident.acknowledge', '2024-03-01T10:03:00Z', user('UL2'), 'acknowledged'),
  v2('PAUTO2', 'auto2-3', 'incident.resolve', '2024-03-01T10:30:00Z', { id: 'SPAUTO2', type: 'service_reference', summary: 'Svc PAUTO2' }, 'resolved'),
  v1('PAUTO1', [{ id: 'auto1-1', type: 'incident.trigger', at: '2024-03-01T10:00:00Z', by: null, status: 'triggered' }]),
  v1('PAUTO1', [{ id: 'auto1-2', type: 'incident.acknowledge', at: '2024-03-01T10:01:00Z', by: 'UL3', status: 'acknowledged' }]),
  v1('PAUTO1', [{ id: 'auto1-3', type: 'incident.resolve', at: '2024-03-01T10:04:00Z', by: null, status: 'resolved' }]),
  // Acknowledged by an agent of a kind the view has no name for (PagerDuty documents users,
  // services and integrations): 'other'.
  v3('PKIND', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PKIND', 'incident.acknowledged', '2024-03-01T10:01:00Z', { agent: { id: 'PKINDAGENT', type: 'some_new_reference' } }),
  // Merged into another incident: PagerDuty resolves the merged-away one, the person who merged
  // as its agent, with resolve_reason merge_resolve_reason naming the incident it went into.
  v3('PMERGED3', 'incident.triggered', '2024-03-01T10:00:00Z'),
  v3('PMERGED3', 'incident.acknowledged', '2024-03-01T10:01:00Z', { agent: user('UM1') }),
  v3('PMERGED3', 'incident.resolved', '2024-03-01T10:06:00Z', { agent: user('UM1'), resolveReason: { type: 'merge_resolve_reason', incident: { id: 'PAUTO3', type: 'incident_reference', summary: title('PAUTO3') } } }),
  v2('PMERGED2', 'merged2-1', 'incident.trigger', '2024-03-01T10:00:00Z', user('UM2'), 'triggered'),
  v2('PMERGED2', 'merged2-2', 'incident.resolve', '2024-03-01T10:07:00Z', user('UM2'), 'resolved', service('PMERGED2'), { resolve_reason: { type: 'merge_resolve_reason', incident: { id: 'PAUTO2', type: 'incident_reference', summary: title('PAUTO2') } } }),
  // Merged, its reason as PagerDuty's v2 webhook docs give it: the string "merged" (developer
  // docs, webhooks 09-V2-Overview, "Currently the only valid values are null and "merged""),
  // not the REST API's object.
  v2('PMERGEDSTR', 'mergedstr-1', 'incident.trigger', '2024-03-01T10:00:00Z', user('UM4'), 'triggered'),
  v2('PMERGEDSTR', 'mergedstr-2', 'incident.resolve', '2024-03-01T10:04:00Z', user('UM4'), 'resolved', service('PMERGEDSTR'), { resolve_reason: 'merged' }),
  // A reason string PagerDuty may add ("plans to introduce additional reasons"): as sent.
  v2('PREASON2', 'reason2-1', 'incident.trigger', '2024-03-01T10:00:00Z', user('UM5'), 'triggered'),
  v2('PREASON2', 'reason2-2', 'incident.resolve', '2024-03-01T10:03:00Z', user('UM5'), 'resolved', service('PREASON2'), { resolve_reason: 'some_later_reason' }),
  // The same merge from a v2 and a v3 subscription (a migration): its first resolution is v2's
  // whole second, which says "merged".
  v2('PBOTHMERGE', 'bothmerge-1', 'incident.trigger', '2024-03-01T10:00:00Z', user('UN1'), 'triggered'),
  v3('PBOTHMERGE', 'incident.triggered', '2024-03-01T10:00:00.300Z', { agent: user('UN1') }),
  v2('PBOTHMERGE', 'bothmerge-2', 'incident.resolve', '2024-03-01T10:08:00Z', user('UN2'), 'resolved', service('PBOTHMERGE'), { resolve_reason: 'merged' }),
  v3('PBOTHMERGE', 'incident.resolved', '2024-03-01T10:08:00.450Z', { agent: user('UN2'), resolveReason: { type: 'merge_resolve_reason', incident: { id: 'PAUTO3', type: 'incident_reference', summary: title('PAUTO3') } } }),
  // v1 with local offsets across the US DST change of 2024-11-03 (02:00 PDT -> 01:00 PST): the
  // acknowledgement's and resolution's local times read earlier than the trigger's.
  v1('PDSTFALL', [{ id: 'fall-1', type: 'incident.trigger', at: '2024-11-03T01:50:00-07:00', by: null, status: 'triggered' }]),
  v1('PDSTFALL', [{ id: 'fall-2', type: 'incident.acknowledge', at: '2024-11-03T01:05:00-08:00', by: 'UO1', status: 'acknowledged' }]),
  v1('PDSTFALL', [{ id: 'fall-3', type: 'incident.resolve', at: '2024-11-03T01:30:00.250-08:00', by: 'UO1', status: 'resolved' }]),
  // v3 across midnight at a year's end, milliseconds apart.
  v3('PMIDNIGHT', 'incident.triggered', '2024-12-31T23:59:59.900Z'),
  v3('PMIDNIGHT', 'incident.acknowledged', '2025-01-01T00:00:00.150Z', { agent: user('UP1') }),
  v3('PMIDNIGHT', 'incident.resolved', '2025-01-01T00:10:00.000Z', { agent: user('UP1') }),
]

/** The columns of INCIDENTS, as text. */
export const SCENARIO_QUERY = `select incident_id, incident_number::text, incident_title, incident_status, service_id, service_name, html_url, app_id, webhook_version,
  triggered_at::text, acknowledged_at::text, acknowledged_by, resolved_at::text, resolved_by,
  seconds_to_acknowledge::text, seconds_to_resolve::text, events::text, first_event_at::text, last_event_at::text, created_at::text,
  acknowledged_by_type, resolved_by_type, resolve_reason
  from atomic.pagerduty_incidents order by incident_id`

type Row = Record<string, string | null>
const row = (incident: string, r: Row): Row => {
  const base: Row = {
    incident_id: incident, incident_number: '100', incident_title: title(incident), incident_status: 'resolved',
    service_id: `S${incident}`, service_name: `Svc ${incident}`, html_url: url(incident), app_id: 'test', webhook_version: 'v3', created_at: '2024-03-01 10:00:00', ...r,
  }
  // A person made each acknowledgement and resolution, and none is a merge, unless the row says otherwise.
  return { acknowledged_by_type: base.acknowledged_by === null ? null : 'user', resolved_by_type: base.resolved_by === null ? null : 'user', resolve_reason: null, ...base }
}

/** atomic.pagerduty_incidents for DELIVERIES, by incident id. */
export const INCIDENTS: Row[] = [
  row('PACCT1', { incident_number: '7', incident_status: 'triggered', app_id: 'acme', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: null, resolved_by: null, seconds_to_acknowledge: null, seconds_to_resolve: null, events: '1', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:00:00' }),
  row('PACCT2', { incident_number: '7', incident_status: 'triggered', app_id: 'globex', triggered_at: '2024-03-01 10:00:05', acknowledged_at: null, acknowledged_by: null, resolved_at: null, resolved_by: null, seconds_to_acknowledge: null, seconds_to_resolve: null, events: '1', first_event_at: '2024-03-01 10:00:05', last_event_at: '2024-03-01 10:00:05', created_at: '2024-03-01 10:00:05' }),
  // Acknowledged by a person; resolved by an integration (v3), by the service (v2), by no user (v1).
  row('PAUTO1', { incident_number: '200', webhook_version: 'v1', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:00', acknowledged_by: 'UL3', resolved_at: '2024-03-01 10:04:00', resolved_by: null, seconds_to_acknowledge: '60.000', seconds_to_resolve: '240.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:04:00' }),
  row('PAUTO2', { webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:03:00', acknowledged_by: 'UL2', resolved_at: '2024-03-01 10:30:00', resolved_by: 'SPAUTO2', resolved_by_type: 'service', seconds_to_acknowledge: '180.000', seconds_to_resolve: '1800.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:30:00' }),
  row('PAUTO3', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:02:00', acknowledged_by: 'UL1', resolved_at: '2024-03-01 10:10:00', resolved_by: 'PEVENTS3', resolved_by_type: 'integration', seconds_to_acknowledge: '120.000', seconds_to_resolve: '600.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:10:00' }),
  // Eleven events; the notes and status update name no status or service: both from the others.
  // Acknowledged by an integration (a service_reference agent).
  row('PAUX', { acknowledged_by_type: 'service', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:03:00', acknowledged_by: 'PINTEGRATION', resolved_at: '2024-03-01 10:05:00', resolved_by: 'UE1', seconds_to_acknowledge: '180.000', seconds_to_resolve: '300.000', events: '11', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:09:00' }),
  // The v2 and v3 copies of each change: the earlier (v2's whole second) of each; six events.
  row('PBOTH', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:00', acknowledged_by: 'UI2', resolved_at: '2024-03-01 10:05:00', resolved_by: 'UI2', seconds_to_acknowledge: '60.000', seconds_to_resolve: '300.000', events: '6', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:05:00.9' }),
  // Merged, seen by both subscriptions: 'merge' from v2's "merged" as from v3's object.
  row('PBOTHMERGE', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:08:00', resolved_by: 'UN2', resolve_reason: 'merge', seconds_to_acknowledge: null, seconds_to_resolve: '480.000', events: '4', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:08:00.45' }),
  // 26 s to the acknowledgement batched with the reassignment, 2135 s to the resolution.
  row('PDOCS1', { incident_number: '200', webhook_version: 'v1', triggered_at: '2016-02-22 21:02:55', acknowledged_at: '2016-02-22 21:03:21', acknowledged_by: 'PFBSJ2Z', resolved_at: '2016-02-22 21:38:30', resolved_by: 'PFBSJ2Z', seconds_to_acknowledge: '26.000', seconds_to_resolve: '2135.000', events: '8', first_event_at: '2016-02-22 21:02:55', last_event_at: '2016-02-22 21:38:30', created_at: '2016-02-22 21:02:55' }),
  // 01:59:30 PST = 09:59:30Z; 03:00:15.5 PDT = 10:00:15.5Z; 11:05:00.125+01:00 = 10:05:00.125Z.
  row('PDST', { incident_number: '200', webhook_version: 'v1', triggered_at: '2024-03-10 09:59:30', acknowledged_at: '2024-03-10 10:00:15.5', acknowledged_by: 'UH1', resolved_at: '2024-03-10 10:05:00.125', resolved_by: 'UH1', seconds_to_acknowledge: '45.500', seconds_to_resolve: '330.125', events: '3', first_event_at: '2024-03-10 09:59:30', last_event_at: '2024-03-10 10:05:00.125', created_at: '2024-03-10 09:59:30' }),
  // 01:50 PDT = 08:50Z; 01:05 PST = 09:05Z; 01:30:00.25 PST = 09:30:00.25Z.
  row('PDSTFALL', { incident_number: '200', webhook_version: 'v1', triggered_at: '2024-11-03 08:50:00', acknowledged_at: '2024-11-03 09:05:00', acknowledged_by: 'UO1', resolved_at: '2024-11-03 09:30:00.25', resolved_by: 'UO1', seconds_to_acknowledge: '900.000', seconds_to_resolve: '2400.250', events: '3', first_event_at: '2024-11-03 08:50:00', last_event_at: '2024-11-03 09:30:00.25', created_at: '2024-11-03 08:50:00' }),
  row('PKIND', { incident_status: 'acknowledged', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:00', acknowledged_by: 'PKINDAGENT', acknowledged_by_type: 'other', resolved_at: null, resolved_by: null, seconds_to_acknowledge: '60.000', seconds_to_resolve: null, events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:01:00' }),
  // Created a second before its trigger's occurred_at: the seconds count from the trigger.
  row('PLATE', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:05:00', acknowledged_by: 'UF1', resolved_at: '2024-03-01 10:30:00', resolved_by: 'UF1', seconds_to_acknowledge: '300.000', seconds_to_resolve: '1800.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:30:00', created_at: '2024-03-01 09:59:59' }),
  // Merged into another incident: resolved by the person who merged it, for the reason 'merge'.
  row('PMERGED2', { webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:07:00', resolved_by: 'UM2', resolve_reason: 'merge', seconds_to_acknowledge: null, seconds_to_resolve: '420.000', events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:07:00' }),
  row('PMERGED3', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:00', acknowledged_by: 'UM1', resolved_at: '2024-03-01 10:06:00', resolved_by: 'UM1', resolve_reason: 'merge', seconds_to_acknowledge: '60.000', seconds_to_resolve: '360.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:06:00' }),
  row('PMERGEDSTR', { webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:04:00', resolved_by: 'UM4', resolve_reason: 'merge', seconds_to_acknowledge: null, seconds_to_resolve: '240.000', events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:04:00' }),
  // 0.25 s to acknowledge and 600.1 s to resolve, across the year's end.
  row('PMIDNIGHT', { triggered_at: '2024-12-31 23:59:59.9', acknowledged_at: '2025-01-01 00:00:00.15', acknowledged_by: 'UP1', resolved_at: '2025-01-01 00:10:00', resolved_by: 'UP1', seconds_to_acknowledge: '0.250', seconds_to_resolve: '600.100', events: '3', first_event_at: '2024-12-31 23:59:59.9', last_event_at: '2025-01-01 00:10:00', created_at: '2024-12-31 23:59:59' }),
  // Its service now; sql/queries/mtta_mttr.sql counts it on the service it was triggered on.
  row('PMOVED', { service_id: 'SPMOVED-B', service_name: 'Svc PMOVED-B', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:02:00', resolved_by: null, seconds_to_acknowledge: null, seconds_to_resolve: '120.000', events: '4', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:02:00' }),
  // No trigger and no creation time: nothing to count from.
  row('PNOCREATED', { incident_status: 'acknowledged', triggered_at: null, acknowledged_at: '2024-03-01 10:03:00', acknowledged_by: 'UG4', resolved_at: null, resolved_by: null, seconds_to_acknowledge: null, seconds_to_resolve: null, events: '2', first_event_at: '2024-03-01 10:03:00', last_event_at: '2024-03-01 10:04:00', created_at: null }),
  // No trigger received: the seconds count from the incident's creation (v3, v1, v2).
  row('PNOTRIGGER', { triggered_at: null, acknowledged_at: '2024-03-01 10:03:00', acknowledged_by: 'UG1', resolved_at: '2024-03-01 10:05:00', resolved_by: 'UG1', seconds_to_acknowledge: '180.000', seconds_to_resolve: '300.000', events: '2', first_event_at: '2024-03-01 10:03:00', last_event_at: '2024-03-01 10:05:00' }),
  row('PNOTRIGGER1', { incident_number: '200', webhook_version: 'v1', triggered_at: null, acknowledged_at: '2024-03-01 10:04:00', acknowledged_by: 'UG2', resolved_at: '2024-03-01 10:10:00', resolved_by: 'UG2', seconds_to_acknowledge: '330.000', seconds_to_resolve: '690.000', events: '2', first_event_at: '2024-03-01 10:04:00', last_event_at: '2024-03-01 10:10:00', created_at: '2024-03-01 09:58:30' }),
  row('PNOTRIGGER2', { incident_status: 'acknowledged', webhook_version: 'v2', triggered_at: null, acknowledged_at: '2024-03-01 10:01:00', acknowledged_by: 'UG3', resolved_at: null, resolved_by: null, seconds_to_acknowledge: '60.000', seconds_to_resolve: null, events: '1', first_event_at: '2024-03-01 10:01:00', last_event_at: '2024-03-01 10:01:00' }),
  row('PREASON2', { webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:03:00', resolved_by: 'UM5', resolve_reason: 'some_later_reason', seconds_to_acknowledge: null, seconds_to_resolve: '180.000', events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:03:00' }),
  // One service, renamed between them: each incident shows the name its own events gave it.
  row('PRENAME1', { service_id: 'SRENAME', service_name: 'Billing', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:02:00', acknowledged_by: 'U-PRENAME1', resolved_at: '2024-03-01 10:10:00', resolved_by: 'U-PRENAME1', seconds_to_acknowledge: '120.000', seconds_to_resolve: '600.000', events: '4', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-03 09:00:00' }),
  row('PRENAME2', { service_id: 'SRENAME', service_name: 'Billing API', webhook_version: 'v2', triggered_at: '2024-03-02 10:00:00', acknowledged_at: '2024-03-02 10:04:00', acknowledged_by: 'UK1', resolved_at: '2024-03-02 10:20:00', resolved_by: 'UK1', seconds_to_acknowledge: '240.000', seconds_to_resolve: '1200.000', events: '3', first_event_at: '2024-03-02 10:00:00', last_event_at: '2024-03-02 10:20:00', created_at: '2024-03-02 10:00:00' }),
  // The first resolution counts, after a reopen too.
  row('PREOPEN', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:02:00', acknowledged_by: 'UC1', resolved_at: '2024-03-01 10:10:00', resolved_by: 'UC1', seconds_to_acknowledge: '120.000', seconds_to_resolve: '600.000', events: '6', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 12:30:00' }),
  // Its first acknowledgement came after its first resolution: more seconds to acknowledge than to resolve.
  row('PREOPENACK', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:32:00', acknowledged_by: 'UQ1', resolved_at: '2024-03-01 10:05:00', resolved_by: 'PEVENTS4', resolved_by_type: 'integration', seconds_to_acknowledge: '1920.000', seconds_to_resolve: '300.000', events: '5', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:40:00' }),
  // Open again: its status says so, resolved_at keeps the first resolution.
  row('PREOPENED', { incident_status: 'triggered', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:20:00', resolved_by: 'UD1', seconds_to_acknowledge: null, seconds_to_resolve: '1200.000', events: '3', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 11:00:00' }),
  // Resolved in the second it was triggered: resolved now, whatever the event ids.
  row('PTIE1', { incident_number: '200', webhook_version: 'v1', triggered_at: '2024-03-01 10:00:00', acknowledged_at: null, acknowledged_by: null, resolved_at: '2024-03-01 10:00:00', resolved_by: null, seconds_to_acknowledge: null, seconds_to_resolve: '0.000', events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:00:00' }),
  row('PTIE2', { acknowledged_by_type: 'service', incident_status: 'acknowledged', webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:00:00', acknowledged_by: 'PINTEGRATION2', resolved_at: null, resolved_by: null, seconds_to_acknowledge: '0.000', seconds_to_resolve: null, events: '2', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:00:00' }),
  row('PUNACK1', { incident_number: '200', webhook_version: 'v1', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:02:00', acknowledged_by: 'UB1', resolved_at: '2024-03-01 10:50:00', resolved_by: 'UB2', seconds_to_acknowledge: '120.000', seconds_to_resolve: '3000.000', events: '5', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 10:50:00' }),
  row('PUNACK2', { webhook_version: 'v2', triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:07:00', acknowledged_by: 'UR2', resolved_at: '2024-03-01 11:00:00', resolved_by: 'UR3', seconds_to_acknowledge: '420.000', seconds_to_resolve: '3600.000', events: '9', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 11:00:00' }),
  row('PUNACK3', { triggered_at: '2024-03-01 10:00:00', acknowledged_at: '2024-03-01 10:01:00.25', acknowledged_by: 'UA1', resolved_at: '2024-03-01 11:00:00.5', resolved_by: 'UA2', seconds_to_acknowledge: '60.250', seconds_to_resolve: '3600.500', events: '5', first_event_at: '2024-03-01 10:00:00', last_event_at: '2024-03-01 11:00:00.5' }),
]

/**
 * sql/queries/mtta_mttr.sql for DELIVERIES: per service id, with the service's latest name;
 * every incident with a start (its trigger, else its creation), PMOVED on the service it was
 * triggered on, the renamed service's two incidents in one row.
 */
export const FIGURES = [
  ...INCIDENTS.filter((r) => (r.triggered_at ?? r.created_at) !== null && !r.incident_id!.startsWith('PRENAME')).map((r) => ({
    service_name: r.incident_id === 'PMOVED' ? 'Svc PMOVED' : r.service_name,
    service_id: r.incident_id === 'PMOVED' ? 'SPMOVED' : r.service_id,
    incidents: '1',
    mtta_seconds: r.seconds_to_acknowledge,
    mttr_seconds: r.seconds_to_resolve,
  })),
  // (120 + 240) / 2 and (600 + 1200) / 2.
  { service_name: 'Billing API', service_id: 'SRENAME', incidents: '2', mtta_seconds: '180.000', mttr_seconds: '900.000' },
].sort((a, b) => (a.service_name! < b.service_name! ? -1 : 1))
