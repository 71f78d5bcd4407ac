/**
 * Text PostgreSQL refuses: U+0000 (no text or jsonb value can hold it: SQLSTATE 22021, or
 * 22P05 for jsonb's `\u0000` escape) and unpaired surrogates (jsonb refuses their escapes,
 * 22P02). Valid JSON can carry both as escapes, and one such string anywhere in a message
 * would send the whole event to bad rows after its 202. They become U+FFFD instead, as in
 * the bad rows' payloads; every other character is kept.
 */

/** A `\u0000` or surrogate escape: only a body that has one can hold such a string. */
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/

/** Can the JSON text decode to a string PostgreSQL refuses? (No for nearly every body.) */
export const mayHoldUnstorable = (jsonText: string): boolean => jsonText.includes('\\u') && SUSPECT_ESCAPE.test(jsonText)

/** `s` with U+0000 and unpaired surrogates replaced by U+FFFD. */
export function storableString(s: string): string {
  const noNul = s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s
  return noNul.isWellFormed() ? noNul : noNul.toWellFormed()
}

/** A parsed JSON value with every string, object keys included, made storable. */
export function storableJson(value: unknown): unknown {
  if (typeof value === 'string') return storableString(value)
  if (Array.isArray(value)) return value.map(storableJson)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    // A `__proto__` key is data: define it, never assign it (that would set the prototype).
    Object.defineProperty(out, storableString(key), { value: storableJson(v), enumerable: true, writable: true, configurable: true })
  }
  return out
}
