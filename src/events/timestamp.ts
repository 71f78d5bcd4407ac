/**
 * PagerDuty timestamps arrive as ISO-8601 strings with `Z`, `+00:00`, `-08:00` or, in v1
 * payloads Snowplow saw, `" 00:00"` (a URL-decoded `+`). Columns are `timestamp` in UTC, and
 * PostgreSQL ignores an offset given for a `timestamp without time zone`, so every value is
 * converted here to UTC text without an offset.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?| \d{2}:?\d{2})?$/

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** Snowplow's rewrite: a trailing `" 00:00"` offset means `+00:00`. */
export function fixSpaceOffset(value: string): string {
  return value.replace(/ (\d{2}:\d{2})$/, '+$1')
}

/** `'2016-02-22T13:07:55-08:00'` -> `'2016-02-22 21:07:55'`; anything unparsable -> null. */
export function toUtcTimestamp(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const m = ISO.exec(fixSpaceOffset(value.trim()))
  if (!m) return null
  const [, y, mo, d, h, mi, s = '0', frac, offset] = m
  let offsetMinutes = 0
  if (offset && offset.toUpperCase() !== 'Z') {
    const digits = offset.replace(/[^0-9]/g, '')
    const sign = offset.startsWith('-') ? -1 : 1
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'))
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi) - offsetMinutes, Number(s))
  const date = new Date(ms)
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return null
  const base = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  return frac ? `${base}.${frac.slice(0, 6)}` : base
}

/** A Date as the UTC `timestamp` text the tables use, with milliseconds. */
export function formatUtc(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '')
}
