/**
 * Who may post webhooks. v3 deliveries are signed: `X-PagerDuty-Signature` holds one or more
 * comma-separated `v1=<hex>` entries (several during a secret rotation), each an
 * HMAC-SHA256 of the raw body bytes (developer docs, webhooks/04-Signatures.md); any match
 * under any configured secret passes, compared in constant time. v1 and v2 have no
 * signature: PagerDuty supports basic auth in the URL (https://user:pass@host/...).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** Why a request was refused with 401, as the auth failures metric labels it. */
export const DENIED_KINDS = ['basic_auth', 'signature_missing', 'signature_mismatch'] as const

export interface Denied { kind: (typeof DENIED_KINDS)[number]; code: 'UNAUTHORIZED' | 'INVALID_SIGNATURE'; message: string; headers: Record<string, string> }

export type Authenticator = (req: Request, body: Uint8Array) => Denied | null

/**
 * Basic auth against `user:password` pairs; null when it passes. Credentials are compared as
 * UTF-8, which the challenge announces (`charset="UTF-8"`, RFC 7617 section 2.1), so a
 * client with a non-ASCII password knows how to encode it.
 */
export function basicAuth(users: readonly { user: string; password: string }[]): (req: Request) => Denied | null {
  const expected = users.map(({ user, password }) => Buffer.from(Buffer.from(`${user}:${password}`).toString('base64')))
  return (req) => {
    // The scheme name is case-insensitive (RFC 9110 section 11.1), the credentials are not.
    const [scheme, credentials] = (req.headers.get('authorization') ?? '').trim().split(/ +/, 2)
    const basic = scheme?.toLowerCase() === 'basic' && credentials !== undefined && credentials !== ''
    const given = Buffer.from(basic ? credentials : '')
    const ok = expected.some((e) => e.length === given.length && timingSafeEqual(e, given))
    // Which of the two, so that whoever reads the 401 in PagerDuty's delivery log knows
    // whether the credentials did not arrive (a URL without them) or are not the ones set.
    const message = basic ? 'basic authentication failed: the user and password given are not a configured pair' : 'basic authentication required'
    return ok ? null : { kind: 'basic_auth', code: 'UNAUTHORIZED', message, headers: { 'www-authenticate': 'Basic realm="pagerduty-collector", charset="UTF-8"' } }
  }
}

/** The `v1=` signatures of a header value, spaces trimmed, malformed entries ignored. */
export function signaturesOf(header: string | null): Buffer[] {
  if (!header) return []
  return header.split(',')
    .map((part) => part.trim())
    .filter((part) => /^v1=[0-9a-fA-F]{64}$/.test(part))
    .map((part) => Buffer.from(part.slice(3), 'hex'))
}

/**
 * Why no signature was found. A header that is there but holds no well-formed entry (`v1=00`,
 * base64 instead of hex) was told "a v1= entry is required", sending whoever computed it to
 * look for a missing header rather than at the digest's encoding.
 */
function missingMessage(header: string | null): string {
  return header?.trim()
    ? 'X-PagerDuty-Signature has no well-formed v1= entry: expected v1=<64 hex digits>, the HMAC-SHA256 of the raw body'
    : 'X-PagerDuty-Signature with a v1= entry is required'
}

/** Verifies a v3 delivery's signature against every secret; null when one matches. */
export function verifySignature(secrets: readonly string[], header: string | null, body: Uint8Array): Denied | null {
  const given = signaturesOf(header)
  if (given.length === 0) return { kind: 'signature_missing', code: 'INVALID_SIGNATURE', message: missingMessage(header), headers: {} }
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest()
    if (given.some((g) => timingSafeEqual(g, expected))) return null
  }
  return { kind: 'signature_mismatch', code: 'INVALID_SIGNATURE', message: 'X-PagerDuty-Signature does not match the body under any configured secret', headers: {} }
}
