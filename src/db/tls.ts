/**
 * TLS to the database, from the libpq parameters of DATABASE_URL (`sslmode`, `sslrootcert`,
 * `sslcert`, `sslkey`), as users copy them from their provider's console. postgres.js reads
 * them only in part: it ignores `sslrootcert=<file>`, `sslcert` and `sslkey` and sends them
 * to the server as settings (which refuses the connection: unrecognized configuration
 * parameter), and it checks no certificate under `verify-ca`. Here they become the `ssl`
 * option and leave the URL.
 *
 * The modes mean what they mean to libpq: `disable` plain; `allow` and `prefer` TLS if the
 * server has it, unverified; `require` TLS, unverified (verified against `sslrootcert` when
 * one is given, as libpq does); `verify-ca` the chain; `verify-full` the chain and the host
 * name. Without `sslmode`: plain for PostgreSQL (postgres.js's default, and what the
 * collector always did), `require` for Redshift, `verify-full` with `sslrootcert=system`.
 * The chain is checked against the system's CAs plus NODE_EXTRA_CA_CERTS, or against the
 * `sslrootcert` file alone.
 */
import fs from 'node:fs'
import tls from 'node:tls'
import type { Dialect } from '../config.ts'

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof SSL_MODES)[number]

/** The URL parameters read here; they are removed from the URL postgres.js gets. */
const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const

export interface TlsSettings {
  /** DATABASE_URL without the parameters above. */
  url: string
  mode: SslMode
  /** `system`, a file, or null. */
  rootCert: string | null
  clientCert: string | null
  clientKey: string | null
  /** The host name `verify-full` checks the certificate against. */
  host: string
}

/** The TLS settings of a database URL, or what is wrong with them (pure: config.ts checks). */
export function tlsSettings(url: string, dialect: Dialect): TlsSettings | { issue: string } {
  const parsed = new URL(url)
  const get = (name: string): string | null => parsed.searchParams.get(name)
  const rootCert = get('sslrootcert')
  const mode = get('sslmode') ?? (rootCert === 'system' ? 'verify-full' : dialect === 'redshift' ? 'require' : 'disable')
  if (!(SSL_MODES as readonly string[]).includes(mode)) return { issue: `sslmode must be one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(mode)}` }
  if (rootCert === 'system' && mode !== 'verify-full') return { issue: 'sslrootcert=system needs sslmode=verify-full (or no sslmode)' }
  const clientCert = get('sslcert')
  const clientKey = get('sslkey')
  if ((clientCert === null) !== (clientKey === null)) return { issue: 'sslcert and sslkey go together' }
  const hadAny = TLS_PARAMETERS.some((name) => parsed.searchParams.has(name))
  for (const name of TLS_PARAMETERS) parsed.searchParams.delete(name)
  // Untouched when there is nothing to remove: URL would re-encode it.
  return { url: hadAny ? parsed.href : url, mode: mode as SslMode, rootCert, clientCert, clientKey, host: parsed.hostname.replace(/^\[|\]$/g, '') }
}

export type SslOption = false | 'prefer' | 'require' | tls.ConnectionOptions

/**
 * postgres.js's `ssl` option for these settings. Reads the certificate files (a missing or
 * unreadable one throws, naming the parameter and the file).
 */
export function sslOption(settings: TlsSettings, read: (file: string) => Buffer = fs.readFileSync): SslOption {
  const file = (parameter: string, path: string): Buffer => {
    try {
      return read(path)
    } catch (error) {
      throw new Error(`DATABASE_URL ${parameter}=${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error })
    }
  }
  const { mode, rootCert } = settings
  const client = settings.clientCert && settings.clientKey ? { cert: file('sslcert', settings.clientCert), key: file('sslkey', settings.clientKey) } : {}
  const ca = rootCert && rootCert !== 'system' ? { ca: file('sslrootcert', rootCert) } : {}
  if (mode === 'disable') return false
  const verifies = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && 'ca' in ca)
  if (!verifies) {
    const plain = mode === 'require' ? 'require' : 'prefer'
    return 'cert' in client ? { rejectUnauthorized: false, ...client } : plain
  }
  const host = settings.host
  // Against the URL's host itself: postgres.js passes no servername for an IP address.
  const checkServerIdentity: tls.ConnectionOptions['checkServerIdentity'] = mode === 'verify-full' ? (_name, cert) => tls.checkServerIdentity(host, cert) : () => undefined
  return { rejectUnauthorized: true, ...ca, ...client, checkServerIdentity }
}
