/**
 * Snowplow's PagerdutyAdapter rewrites (reference/snowplow_pagerduty.md section 1), applied
 * to the values that go into columns; the JSON column keeps the message as received.
 */

/** The string "null" becomes JSON null anywhere: objects and arrays alike. */
export function nullifyNullStrings(value: unknown): unknown {
  if (value === 'null') return null
  if (Array.isArray(value)) return value.map(nullifyNullStrings)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = nullifyNullStrings(v)
    return out
  }
  return value
}

/** `incident.trigger` -> `trigger`, as Snowplow stores v1 types. */
export function stripIncidentPrefix(type: string): string {
  return type.startsWith('incident.') ? type.slice('incident.'.length) : type
}
