/**
 * Every HTTP reply in one place: one error envelope `{error: {code, message, issues}}` and
 * one code -> status table. PagerDuty retries timeouts, 5xx and 429 for up to 48 hours and
 * drops any other 4xx (disabling the subscription after three in a row), so 4xx is only for
 * requests that can never succeed, and 503 + Retry-After for anything that may.
 */
import type { Issue } from '../adapters/types.ts'

export const ERROR_STATUS = {
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** nginx's code: the client went away before its body arrived; no one reads the answer. */
  CLIENT_CLOSED_REQUEST: 499,
  EMPTY_BODY: 400,
  INVALID_UTF8: 400,
  INVALID_JSON: 400,
  JSON_TOO_DEEP: 400,
  NOT_PAGERDUTY: 400,
  UNAUTHORIZED: 401,
  INVALID_SIGNATURE: 401,
  SPOOL_FULL: 503,
  SPOOL_IO: 503,
  SPOOL_CLOSED: 503,
  /** Too many bytes of webhook bodies arriving at once (BODY_BYTES_IN_FLIGHT): nothing read, nothing stored. */
  BODIES_IN_FLIGHT: 503,
  NOT_READY: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/** Seconds PagerDuty (or any client) should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 30

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }

/**
 * A reply whose status its type knows: src/http/server.ts declares what each route can
 * answer (the metrics start those series at 0) and the compiler holds the routes to it.
 */
export type Answer<S extends number = number> = Response & { readonly status: S }

export function answer<S extends number>(status: S, body: string, headers: Record<string, string>): Answer<S> {
  return new Response(body, { status, headers }) as Answer<S>
}

export function json<S extends number>(status: S, body: unknown, headers?: Record<string, string>): Answer<S> {
  return answer(status, JSON.stringify(body), headers === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...headers })
}

export function errorResponse<C extends ErrorCode>(code: C, message: string, issues: readonly Issue[] = [], headers: Record<string, string> = {}): Answer<(typeof ERROR_STATUS)[C]> {
  const status = ERROR_STATUS[code]
  const extra = status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS), ...headers } : headers
  return json(status, { error: { code, message, issues } }, extra)
}
