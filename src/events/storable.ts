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

/**
 * A parsed JSON value with `leaf` applied to every string and `key` to every object key: a
 * copy where anything changed. A `__proto__` key is data: it is defined, never assigned
 * (assigning it would set the copy's prototype).
 */
export function mapJsonStrings(value: unknown, leaf: (s: string) => unknown, key: (k: string) => string = (k) => k): unknown {
  if (typeof value === 'string') return leaf(value)
  if (Array.isArray(value)) return value.map((v) => mapJsonStrings(v, leaf, key))
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, key(k), { value: mapJsonStrings(v, leaf, key), enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** A parsed JSON value with every string, object keys included, made storable. */
export const storableJson = (value: unknown): unknown => mapJsonStrings(value, storableString, storableString)

/**
 * JSON text in ASCII only (every character past U+007E as a `\uXXXX` escape): what every
 * database encoding can hold, for values a client chose (query values, headers), so a
 * database whose encoding lacks one of their characters does not refuse the row around them.
 */
export const asciiJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
