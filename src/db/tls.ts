/**
 * TLS to the database, from the libpq parameters of DATABASE_URL, as users copy them from
 * their provider's console. postgres.js reads them only in part: it ignores
 * `sslrootcert=<file>`, `sslcert`, `sslkey` and the rest and sends them to the server as
 * settings (which refuses the connection: unrecognized configuration parameter), and it
 * checks no certificate under `verify-ca`. Here they become the `ssl` option and leave the
 * URL; one the collector cannot honour is a configuration error, never ignored silently.
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

/**
 * libpq's connection parameters that are not server settings, by what becomes of them:
 * read here, ignored (their libpq meaning needs nothing from postgres.js, or asks for what it
 * does anyway), or refused for the values postgres.js cannot honour. postgres.js itself reads
 * `sslnegotiation` and `target_session_attrs`.
 */
const READ = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'sslcrl', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'requiressl'] as const
const IGNORED = ['sslsni', 'sslcompression', 'connect_timeout', 'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout'] as const
const REFUSED: Record<string, (value: string) => boolean> = {
  channel_binding: (v) => v === 'require',
  gssencmode: (v) => v === 'require',
  sslcertmode: (v) => v === 'require',
  sslcrldir: () => true,
  sslkeylogfile: () => true,
  requirepeer: () => true,
  krbsrvname: () => true,
  gsslib: () => true,
  gssdelegation: (v) => v === '1',
  service: () => true,
  passfile: () => true,
  hostaddr: () => true,
  load_balance_hosts: (v) => v !== 'disable',
}
const PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const

export interface TlsSettings {
  /** DATABASE_URL without the parameters above. */
  url: string
  mode: SslMode
  /** `system`, a file, or null. */
  rootCert: string | null
  clientCert: string | null
  clientKey: string | null
  /** Passphrase of an encrypted sslkey. */
  keyPassword: string | null
  crl: string | null
  minVersion: tls.SecureVersion | null
  maxVersion: tls.SecureVersion | null
  /** The URL's host: what `verify-full` checks the certificate against when TLS names none. */
  host: string
}

/** The TLS settings of a database URL, or what is wrong with them (pure: config.ts checks). */
export function tlsSettings(url: string, dialect: Dialect): TlsSettings | { issue: string } {
  const parsed = new URL(url)
  const get = (name: string): string | null => parsed.searchParams.get(name)
  // Any other parameter goes to the server as a setting (application_name, options, ...): a
  // misspelt TLS one would then fail every connection at run time, so it stops the start.
  const known = new Set<string>([...READ, ...IGNORED, ...Object.keys(REFUSED), 'sslnegotiation'])
  for (const name of parsed.searchParams.keys()) {
    if (/^(ssl|gss)/i.test(name) && !known.has(name)) {
      const hint = name === 'ssl' ? ' (node-postgres style: use sslmode=require to encrypt, sslmode=verify-full to verify too)' : name.toLowerCase().startsWith('sslm') ? ' (sslmode?)' : ''
      return { issue: `unknown parameter ${name}${hint}: not a libpq TLS parameter` }
    }
  }
  for (const [name, refused] of Object.entries(REFUSED)) {
    const value = get(name)
    if (value !== null && refused(value)) return { issue: `${name}=${value} is not supported (postgres.js cannot honour it); remove it` }
  }
  const rootCert = get('sslrootcert')
  const legacy = get('requiressl') === '1' ? 'require' : null
  const mode = get('sslmode') ?? legacy ?? (rootCert === 'system' ? 'verify-full' : dialect === 'redshift' ? 'require' : 'disable')
  if (!(SSL_MODES as readonly string[]).includes(mode)) return { issue: `sslmode must be one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(mode)}` }
  if (rootCert === 'system' && mode !== 'verify-full') return { issue: 'sslrootcert=system needs sslmode=verify-full (or no sslmode)' }
  const clientCert = get('sslcert')
  const clientKey = get('sslkey')
  if ((clientCert === null) !== (clientKey === null)) return { issue: 'sslcert and sslkey go together' }
  if (clientCert !== null && (mode === 'allow' || mode === 'prefer' || mode === 'disable')) return { issue: `a client certificate (sslcert) needs sslmode=require or stronger, ${get('sslmode') === null ? 'and no sslmode means disable here' : `got ${mode}`}` }
  const version = (name: string): tls.SecureVersion | null | { issue: string } => {
    const v = get(name)
    return v === null || v === '' ? null : (PROTOCOLS as readonly string[]).includes(v) ? (v as tls.SecureVersion) : { issue: `${name} must be one of ${PROTOCOLS.join(', ')}, got ${JSON.stringify(v)}` }
  }
  const minVersion = version('ssl_min_protocol_version')
  const maxVersion = version('ssl_max_protocol_version')
  for (const v of [minVersion, maxVersion]) if (v !== null && typeof v === 'object') return v
  const keyPassword = get('sslpassword')
  const crl = get('sslcrl')
  const names = [...READ, ...IGNORED, ...Object.keys(REFUSED)]
  const hadAny = names.some((name) => parsed.searchParams.has(name))
  for (const name of names) parsed.searchParams.delete(name)
  return {
    // Untouched when there is nothing to remove: URL would re-encode it.
    url: hadAny ? parsed.href : url,
    mode: mode as SslMode,
    rootCert,
    clientCert,
    clientKey,
    keyPassword,
    crl,
    minVersion: minVersion as tls.SecureVersion | null,
    maxVersion: maxVersion as tls.SecureVersion | null,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
  }
}

export type SslOption = false | 'prefer' | 'require' | tls.ConnectionOptions

/**
 * postgres.js's `ssl` option for these settings. Reads the certificate files and checks that
 * they parse (a CA that is not PEM, a key that does not match its certificate): a missing,
 * unreadable or unusable one throws, naming the parameter.
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
  if (mode === 'disable') return false
  const options: tls.ConnectionOptions = {
    ...(rootCert && rootCert !== 'system' ? { ca: file('sslrootcert', rootCert) } : {}),
    ...(settings.clientCert && settings.clientKey ? { cert: file('sslcert', settings.clientCert), key: file('sslkey', settings.clientKey) } : {}),
    ...(settings.keyPassword !== null ? { passphrase: settings.keyPassword } : {}),
    ...(settings.crl ? { crl: file('sslcrl', settings.crl) } : {}),
    ...(settings.minVersion ? { minVersion: settings.minVersion } : {}),
    ...(settings.maxVersion ? { maxVersion: settings.maxVersion } : {}),
  }
  try {
    tls.createSecureContext(options)
  } catch (error) {
    const given = ([['sslrootcert', rootCert === 'system' ? null : rootCert], ['sslcert', settings.clientCert], ['sslkey', settings.clientKey], ['sslcrl', settings.crl]] as const)
      .filter(([, path]) => path !== null).map(([parameter, path]) => `${parameter}=${path}`)
    throw new Error(`DATABASE_URL ${given.join(' ')}: not usable (${(error as Error).message})`, { cause: error })
  }
  const verifies = mode === 'verify-ca' || mode === 'verify-full' || (mode === 'require' && 'ca' in options)
  if (!verifies) {
    const plain = mode === 'require' ? 'require' : 'prefer'
    return Object.keys(options).length > 0 ? { rejectUnauthorized: false, ...options } : plain
  }
  // Against the host of the connection TLS gives (each host of a multi-host URL), else the
  // URL's: postgres.js passes no servername for an IP address.
  const host = settings.host
  const checkServerIdentity: tls.ConnectionOptions['checkServerIdentity'] = mode === 'verify-full' ? (name, cert) => tls.checkServerIdentity(name || host, cert) : () => undefined
  return { rejectUnauthorized: true, ...options, checkServerIdentity }
}

/** A database URL without its TLS parameters, and postgres.js's `ssl` option for them. */
export interface DatabaseTls { url: string; ssl: SslOption }

/**
 * The TLS of a database URL, worked out once: the files are read and checked here, and a
 * pool opened again later (a write timeout, a failover) reuses them instead of failing on a
 * file being rotated. Throws what is wrong, naming DATABASE_URL.
 */
export function databaseTls(url: string, dialect: Dialect): DatabaseTls {
  const settings = tlsSettings(url, dialect)
  if ('issue' in settings) throw new Error(`DATABASE_URL: ${settings.issue}`)
  return { url: settings.url, ssl: sslOption(settings) }
}
