/**
 * Deterministic event ids: a UUIDv5 (RFC 9562 section 5.5) of the PagerDuty identity of the
 * event, so a PagerDuty retry, a spool replay or a retry that lands on another collector
 * instance always yields the same `event_id` and loads once.
 */
import { createHash } from 'node:crypto'

/** Our namespace for PagerDuty event identities; changing it would break deduplication. */
export const EVENT_ID_NAMESPACE = '6f1c3c52-8f1e-5d53-9a77-1d2b3c4d5e6f'

const namespaceBytes = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex')

export function uuidV5(name: string, namespace: Buffer = namespaceBytes): string {
  const hash = createHash('sha1').update(namespace).update(name, 'utf8').digest()
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/**
 * The event id for one PagerDuty event: `version` keeps v1/v2 message ids and v3 event ids
 * in separate name spaces; without an id, the message's own JSON text is the identity.
 */
export function pagerdutyEventId(version: string, id: string | undefined, rawMessage: unknown): string {
  return uuidV5(id !== undefined && id !== '' ? `com.pagerduty/${version}/id/${id}` : `com.pagerduty/${version}/json/${JSON.stringify(rawMessage)}`)
}
