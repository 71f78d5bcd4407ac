/**
 * Snowplow's PagerdutyAdapter rewrites (reference/snowplow_pagerduty.md section 1), applied
 * to the values that go into columns; the JSON column keeps the message as received.
 */
import { mapJsonStrings } from '../../events/storable.ts'

/** Does `value` hold the string "null" anywhere? (Walks without allocating.) */
function holdsNullString(value: unknown): boolean {
  if (value === 'null') return true
  if (value === null || typeof value !== 'object') return false
  if (Array.isArray(value)) return value.some(holdsNullString)
  for (const key in value) if (holdsNullString((value as Record<string, unknown>)[key])) return true
  return false
}

/**
 * The string "null" becomes JSON null anywhere: objects and arrays alike. Returns `value`
 * itself when there is nothing to rewrite (nearly always), else a rewritten copy.
 */
export function nullifyNullStrings(value: unknown): unknown {
  return holdsNullString(value) ? mapJsonStrings(value, (s) => (s === 'null' ? null : s)) : value
}

/** `incident.trigger` -> `trigger`, as Snowplow stores v1 types. */
export function stripIncidentPrefix(type: string): string {
  return type.startsWith('incident.') ? type.slice('incident.'.length) : type
}
