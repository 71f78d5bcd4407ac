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

/** UTC already, as PagerDuty mostly sends it: `2016-02-22T21:02:55Z`, `...55.123Z`. */
const UTC_Z = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

/**
 * The text of a `...Z` timestamp whose every field is in range, without a Date: the general
 * path below was the adapters' costliest cell (a regex, a Date and six padStarts, several
 * times per event). Anything else, rolling over included, takes the general path.
 */
function fastUtc(value: string): string | undefined {
  const m = UTC_Z.exec(value)
  if (!m) return undefined
  const date = m[1] as string
  const y = Number(date.slice(0, 4))
  const mo = Number(date.slice(5, 7))
  const d = Number(date.slice(8, 10))
  const days = mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo - 1]
  // Years before 100 are read as 19xx by Date.UTC; leave them (and every edge) to it.
  if (y < 100 || days === undefined || d < 1 || d > days || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4]) > 59) return undefined
  const base = `${date} ${m[2]}:${m[3]}:${m[4]}`
  return m[5] ? `${base}.${m[5].slice(0, 6)}` : base
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
