/**
 * Credentials in URLs (`https://user:password@host/...`): the README tells v1/v2 users to put
 * basic auth in the webhook URL, and v2 messages repeat that URL. They are replaced by `***`
 * before anything is stored, the spool on disk included.
 */

/**
 * A URL's userinfo, after its scheme: up to the authority's last `@` (RFC 3986 section 3.2;
 * Go's and the WHATWG URL parsers read `https://u:p@ss@h/` as the password `p@ss`). The
 * authority ends at the first `/`, `?` or `#`: an `@` in the query of a URL without a path
 * (`https://u:p@h?to=ops@example.com`) is not the userinfo's, and taking it lost the host.
 */
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i

/** `url` with its userinfo replaced by `***` (unchanged when it has none). */
export const withoutUserinfo = (url: string): string => url.replace(URL_USERINFO, '$1***@')

/**
 * Userinfo of any URL inside text (JSON too, where `/` may be escaped as `\/`). The scheme is
 * bounded (real ones are a few letters): unbounded, text like `a.a.a.…@` (every letter a
 * start, each scanning to the end) took time quadratic in its length, 18 s for a 512 KiB
 * rejected body, during which the event loop answered nothing. No word boundary before it:
 * a URL run on from 32 letters or digits (`ref0123…https://u:p@h`) would have none within
 * reach; the match then takes a few of those letters into the scheme, and `$1` keeps them.
 * The userinfo runs to the authority's last `@` (not past its `/`, `?` or `#`), as in
 * URL_USERINFO; the scan still stops at the first `/`, which every later candidate's `//` is,
 * so the cost stays linear.
 */
const TEXT_USERINFO = /([a-z][a-z0-9+.-]{0,31}:(?:\\?\/){2})[^/?#\\\s"]+@/gi

/** Text, a request body that could not be parsed say, with every URL's userinfo replaced. */
export const redactUrlCredentials = (text: string): string => (text.includes('@') ? text.replace(TEXT_USERINFO, '$1***@') : text)

/**
 * The end of a body cut short (at MAX_BODY_BYTES) can be a URL cut inside its userinfo,
 * `https://alice:TopSec`, before the `@` that marks it as one: an authority still open at the
 * very end is replaced by `***` (a cut host name goes with it; the body is not whole anyway).
 */
const OPEN_AUTHORITY_AT_END = /([a-z][a-z0-9+.-]{0,31}:(?:\\?\/){2})[^/?#\\\s"]+$/i
export function redactCutUrl(text: string): string {
  const redacted = redactUrlCredentials(text)
  // Only the end can be open: look at its last few KB, not the whole megabyte.
  const from = Math.max(0, redacted.length - 4096)
  return redacted.slice(0, from) + redacted.slice(from).replace(OPEN_AUTHORITY_AT_END, '$1***')
}
