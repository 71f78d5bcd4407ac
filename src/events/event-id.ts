/**
 * Deterministic event ids: a UUIDv5 (RFC 9562 section 5.5) of the PagerDuty identity of the
 * event, so a PagerDuty retry, a spool replay or a retry that lands on another collector
 * instance always yields the same `event_id` and loads once.
 */
/** Our namespace for PagerDuty event identities; changing it would break deduplication. */
export const EVENT_ID_NAMESPACE = '6f1c3c52-8f1e-5d53-9a77-1d2b3c4d5e6f'

const namespaceBytes = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex')
/** Namespace + name, hashed in one call (half the cost of node:crypto's createHash per id). */
const scratch = Buffer.allocUnsafe(4096)

export function uuidV5(name: string, namespace: Buffer = namespaceBytes): string {
  const length = namespace.length + Buffer.byteLength(name, 'utf8')
  const input = length <= scratch.length ? scratch : Buffer.allocUnsafe(length)
  namespace.copy(input, 0)
  input.write(name, namespace.length, 'utf8')
  const hash = Buffer.from(Bun.SHA1.hash(input.subarray(0, length)) as Uint8Array)
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const hex = hash.toString('hex', 0, 16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/**
 * The event id for one PagerDuty event: `version` keeps v1/v2 message ids and v3 event ids
 * in separate name spaces; without an id, the message's own JSON text is the identity.
 */
export function pagerdutyEventId(version: string, id: string | undefined, rawMessage: unknown): string {
  return uuidV5(id !== undefined && id !== '' ? `com.pagerduty/${version}/id/${id}` : `com.pagerduty/${version}/json/${JSON.stringify(rawMessage)}`)
}
