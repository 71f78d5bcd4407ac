/**
 * PagerDuty timestamps arrive as ISO-8601 strings with `Z`, `+00:00`, `-08:00` or, in v1
 * payloads Snowplow saw, `" 00:00"` (a URL-decoded `+`). Columns are `timestamp` in UTC, and
 * PostgreSQL ignores an offset given for a `timestamp without time zone`, so every value is
 * converted here to UTC text without an offset.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?| \d{2}:?\d{2})?$/

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/**
 * Snowplow's rewrite: a trailing `" 00:00"` offset means `+00:00`. Only after a time's
 * minutes or seconds: in `"2016-02-22 13:07"` the ` 13:07` is the time, not an offset.
 */
export function fixSpaceOffset(value: string): string {
  return value.replace(/(:\d{2}(?:[.,]\d+)?) (\d{2}:\d{2})$/, '$1+$2')
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

/** The number in `value` from `at` for `width` digits, or -1 if any is not a digit. */
function digits(value: string, at: number, width: number): number {
  let n = 0
  for (let i = at; i < at + width; i++) {
    const d = value.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * UTC already, as PagerDuty mostly sends it (`2016-02-22T21:02:55Z`, `...55.123Z`), every
 * field in range: its text without a Date or a regex (the general path below was the
 * adapters' costliest cell, several per event). Anything else, rolling over included, is
 * left to the general path (undefined).
 */
function fastUtc(value: string): string | undefined {
  const n = value.length
  if (n < 20 || n > 30 || value.charCodeAt(n - 1) !== 90 /* Z */) return undefined
  if (value[4] !== '-' || value[7] !== '-' || value[10] !== 'T' || value[13] !== ':' || value[16] !== ':') return undefined
  const y = digits(value, 0, 4)
  const mo = digits(value, 5, 2)
  const d = digits(value, 8, 2)
  const h = digits(value, 11, 2)
  const mi = digits(value, 14, 2)
  const sec = digits(value, 17, 2)
  const days = mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]
  // Years before 100 are read as 19xx by Date.UTC; leave them (and every edge) to it.
  if (y < 100 || days === undefined || d < 1 || d > days || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return undefined
  const base = `${value.slice(0, 10)} ${value.slice(11, 19)}`
  if (n === 20) return base
  // A fraction: `.` and 1-9 digits before the Z.
  if (value[19] !== '.' || n === 21 || digits(value, 20, n - 21) < 0) return undefined
  return `${base}.${value.slice(20, Math.min(n - 1, 26))}`
}

/** `'2016-02-22T13:07:55-08:00'` -> `'2016-02-22 21:07:55'`; anything unparsable -> null. */
export function toUtcTimestamp(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const fast = fastUtc(value)
  if (fast !== undefined) return fast
  return generalUtc(value)
}

/** Any ISO-8601 form with any offset, through Date.UTC (exported for the fast path's test). */
export function generalUtc(value: string): string | null {
  const m = ISO.exec(fixSpaceOffset(value.trim()))
  if (!m) return null
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number]
  const [frac, offset] = [m[7], m[8]]
  let offsetMinutes = 0
  if (offset && offset.toUpperCase() !== 'Z') {
    const digits = offset.replace(/[^0-9]/g, '')
    const sign = offset.startsWith('-') ? -1 : 1
    const [oh, om] = [Number(digits.slice(0, 2)), Number(digits.slice(2, 4) || '0')]
    if (oh > 18 || om > 59) return null // as java.time: no zone is further than 18 hours from UTC
    offsetMinutes = sign * (oh * 60 + om)
  }
  const days = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]
  // In range, or null: a day past its month's end must not roll into the next month. A
  // leap second (:60) is the next minute's first, as PostgreSQL reads it.
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 60) return null
  // setUTCFullYear, not Date.UTC: that reads years 0-99 as 1900-1999.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute - offsetMinutes, second)
  // Year 0 (1 BC) is not a year PostgreSQL's ISO text takes without a BC suffix: NULL.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1) return null
  const base = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  return frac ? `${base}.${frac.slice(0, 6)}` : base
}

let lastTime = NaN
let lastText = ''

/** A Date as the UTC `timestamp` text the tables use, with milliseconds. */
export function formatUtc(date: Date): string {
  // An event's rows carry its receipt time three times: format it once.
  const time = date.getTime()
  if (time === lastTime) return lastText
  lastText = date.toISOString().replace('T', ' ').replace('Z', '')
  lastTime = time
  return lastText
}
