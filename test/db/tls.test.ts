/**
 * DATABASE_URL's libpq TLS parameters as postgres.js's `ssl` option: what each sslmode
 * verifies, the certificate files read, and the parameters kept out of the startup packet.
 * The connections themselves are tested against a TLS-only PostgreSQL in binary.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import type tls from 'node:tls'
import { loadConfig } from '../../src/config.ts'
import { sslOption, tlsSettings, type TlsSettings } from '../../src/db/tls.ts'

const settings = (url: string, dialect: 'postgres' | 'redshift' = 'postgres'): TlsSettings => {
  const s = tlsSettings(url, dialect)
  if ('issue' in s) throw new Error(s.issue)
  return s
}
const files: Record<string, string> = { '/ca.pem': 'CA', '/client.crt': 'CERT', '/client.key': 'KEY' }
const read = (file: string): Buffer => {
  const text = files[file]
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' })
  return Buffer.from(text)
}
const option = (url: string, dialect: 'postgres' | 'redshift' = 'postgres') => sslOption(settings(url, dialect), read)
/** A certificate as tls.checkServerIdentity reads it, for the name `db.example.com`. */
const cert = { subject: { CN: 'db.example.com' }, subjectaltname: 'DNS:db.example.com' } as unknown as tls.PeerCertificate
const identity = (o: ReturnType<typeof option>, host: string) =>
  typeof o === 'object' && o !== null && o.checkServerIdentity ? o.checkServerIdentity(host, cert) : 'no check'

describe('DATABASE_URL TLS parameters', () => {
  test('without sslmode: plain for PostgreSQL, as before; TLS unverified for Redshift', () => {
    expect(option('postgres://u@db.example.com/d')).toBe(false)
    expect(option('postgres://u@x.redshift.amazonaws.com:5439/d', 'redshift')).toBe('require')
    expect(option('postgres://u@x.redshift.amazonaws.com:5439/d?sslmode=disable', 'redshift')).toBe(false)
  })

  test('require and prefer encrypt without verifying; allow is prefer', () => {
    expect(option('postgres://u@h/d?sslmode=require')).toBe('require')
    expect(option('postgres://u@h/d?sslmode=prefer')).toBe('prefer')
    expect(option('postgres://u@h/d?sslmode=allow')).toBe('prefer')
  })

  test('verify-full checks the chain and the URL host name, verify-ca only the chain', () => {
    const full = option('postgres://u@db.example.com/d?sslmode=verify-full&sslrootcert=/ca.pem')
    expect(full).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') })
    expect(identity(full, 'anything')).toBeUndefined()
    const wrongHost = option('postgres://u@10.0.0.5/d?sslmode=verify-full&sslrootcert=/ca.pem')
    // The URL's host is checked, whatever name the TLS layer passes (none for an address).
    expect(identity(wrongHost, 'db.example.com')).toBeInstanceOf(Error)
    const ca = option('postgres://u@10.0.0.5/d?sslmode=verify-ca&sslrootcert=/ca.pem')
    expect(ca).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') })
    expect(identity(ca, '10.0.0.5')).toBeUndefined()
  })

  test('require with a root certificate verifies the chain (as libpq does); Redshift too', () => {
    expect(option('postgres://u@h/d?sslmode=require&sslrootcert=/ca.pem')).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') })
    expect(option('postgres://u@x.redshift.amazonaws.com:5439/d?sslrootcert=/ca.pem', 'redshift')).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA') })
  })

  test('sslrootcert=system means verify-full against the system CAs (and NODE_EXTRA_CA_CERTS)', () => {
    const system = option('postgres://u@db.example.com/d?sslrootcert=system')
    expect(system).toMatchObject({ rejectUnauthorized: true })
    expect(system && typeof system === 'object' && 'ca' in system).toBe(false)
    expect(identity(system, 'db.example.com')).toBeUndefined()
    expect(tlsSettings('postgres://u@h/d?sslrootcert=system&sslmode=require', 'postgres')).toEqual({ issue: 'sslrootcert=system needs sslmode=verify-full (or no sslmode)' })
  })

  test('a client certificate goes with its key', () => {
    expect(option('postgres://u@h/d?sslmode=verify-full&sslcert=/client.crt&sslkey=/client.key')).toMatchObject({ cert: Buffer.from('CERT'), key: Buffer.from('KEY') })
    expect(option('postgres://u@h/d?sslmode=require&sslcert=/client.crt&sslkey=/client.key')).toMatchObject({ rejectUnauthorized: false, cert: Buffer.from('CERT') })
    expect(tlsSettings('postgres://u@h/d?sslmode=require&sslcert=/client.crt', 'postgres')).toEqual({ issue: 'sslcert and sslkey go together' })
  })

  test('the parameters leave the URL, the others stay, and a URL without them is untouched', () => {
    expect(settings('postgres://u:p%40ss@h:5433/d?sslmode=verify-full&sslrootcert=/ca.pem&application_name=x').url).toBe('postgres://u:p%40ss@h:5433/d?application_name=x')
    expect(settings('postgres://u:p%40ss@h/d').url).toBe('postgres://u:p%40ss@h/d')
    expect(settings('postgres://u@[::1]:5432/d?sslmode=verify-full').host).toBe('::1')
  })

  test('an unreadable certificate file is named with its parameter', () => {
    expect(() => option('postgres://u@h/d?sslmode=verify-full&sslrootcert=/missing.pem')).toThrow('DATABASE_URL sslrootcert=/missing.pem: cannot read it (ENOENT)')
  })

  test('an unknown sslmode is a configuration error naming DATABASE_URL', () => {
    const r = loadConfig({ DATABASE_URL: 'postgres://u@h/d?sslmode=verify' }, [])
    expect(r.ok ? [] : r.issues).toEqual([{ option: 'DATABASE_URL', message: 'sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got "verify"' }])
  })
})
