/**
 * DATABASE_URL's libpq TLS parameters as postgres.js's `ssl` option: what each sslmode
 * verifies, the certificate files read and checked, the parameters kept out of the startup
 * packet and the ones refused. The connections themselves are tested against a TLS-only
 * PostgreSQL in binary.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import type tls from 'node:tls'
import { loadConfig } from '../../src/config.ts'
import { databaseTls, sslOption, tlsSettings, type TlsSettings } from '../../src/db/tls.ts'

const FIXTURES = path.join(import.meta.dir, '..', 'fixtures', 'tls')
const CA = path.join(FIXTURES, 'ca.pem')
const CERT = path.join(FIXTURES, 'client.crt')
const KEY = path.join(FIXTURES, 'client.key')
const pem = (file: string) => fs.readFileSync(file)

const settings = (url: string, dialect: 'postgres' | 'redshift' = 'postgres'): TlsSettings => {
  const s = tlsSettings(url, dialect)
  if ('issue' in s) throw new Error(s.issue)
  return s
}
const option = (url: string, dialect: 'postgres' | 'redshift' = 'postgres') => sslOption(settings(url, dialect))
const issue = (url: string) => tlsSettings(url, 'postgres')
/** A certificate as tls.checkServerIdentity reads it, for the name `db.example.com`. */
const cert = { subject: { CN: 'db.example.com' }, subjectaltname: 'DNS:db.example.com' } as unknown as tls.PeerCertificate
/** The identity check as TLS calls it: with the host of the connection, or '' when it has none. */
const identity = (o: ReturnType<typeof option>, name: string) =>
  typeof o === 'object' && o !== null && o.checkServerIdentity ? o.checkServerIdentity(name, cert) : 'no check'

describe('DATABASE_URL TLS parameters', () => {
  test('without sslmode: plain for PostgreSQL, as before; TLS unverified for Redshift', () => {
    expect(option('postgres://u@db.example.com/d')).toBe(false)
    expect(option('postgres://u@x.redshift.amazonaws.com:5439/d', 'redshift')).toBe('require')
    expect(option('postgres://u@x.redshift.amazonaws.com:5439/d?sslmode=disable', 'redshift')).toBe(false)
  })

  test('require and prefer encrypt without verifying; allow is prefer; requiressl=1 is require', () => {
    expect(option('postgres://u@h/d?sslmode=require')).toBe('require')
    expect(option('postgres://u@h/d?sslmode=prefer')).toBe('prefer')
    expect(option('postgres://u@h/d?sslmode=allow')).toBe('prefer')
    expect(option('postgres://u@h/d?requiressl=1')).toBe('require')
  })

  test('verify-full checks the chain and the host name, verify-ca only the chain', () => {
    const full = option(`postgres://u@db.example.com/d?sslmode=verify-full&sslrootcert=${CA}`)
    expect(full).toMatchObject({ rejectUnauthorized: true, ca: pem(CA) })
    expect(identity(full, 'db.example.com')).toBeUndefined()
    // TLS gives no name for an IP address: the URL's host is checked then.
    expect(identity(full, '')).toBeUndefined()
    const byAddress = option(`postgres://u@10.0.0.5/d?sslmode=verify-full&sslrootcert=${CA}`)
    expect(identity(byAddress, '10.0.0.5')).toBeInstanceOf(Error)
    expect(identity(byAddress, '')).toBeInstanceOf(Error)
    const chainOnly = option(`postgres://u@10.0.0.5/d?sslmode=verify-ca&sslrootcert=${CA}`)
    expect(chainOnly).toMatchObject({ rejectUnauthorized: true, ca: pem(CA) })
    expect(identity(chainOnly, '10.0.0.5')).toBeUndefined()
  })

  test('require with a root certificate verifies the chain (as libpq does); Redshift too', () => {
    expect(option(`postgres://u@h/d?sslmode=require&sslrootcert=${CA}`)).toMatchObject({ rejectUnauthorized: true, ca: pem(CA) })
    expect(option(`postgres://u@x.redshift.amazonaws.com:5439/d?sslrootcert=${CA}`, 'redshift')).toMatchObject({ rejectUnauthorized: true, ca: pem(CA) })
  })

  test('sslrootcert=system means verify-full against the system CAs (and NODE_EXTRA_CA_CERTS)', () => {
    const system = option('postgres://u@db.example.com/d?sslrootcert=system')
    expect(system).toMatchObject({ rejectUnauthorized: true })
    expect(system && typeof system === 'object' && 'ca' in system).toBe(false)
    expect(identity(system, 'db.example.com')).toBeUndefined()
    expect(issue('postgres://u@h/d?sslrootcert=system&sslmode=require')).toEqual({ issue: 'sslrootcert=system needs sslmode=verify-full (or no sslmode)' })
  })

  test('a client certificate goes with its key, its passphrase, and a mode that uses TLS', () => {
    expect(option(`postgres://u@h/d?sslmode=verify-full&sslcert=${CERT}&sslkey=${KEY}`)).toMatchObject({ cert: pem(CERT), key: pem(KEY) })
    expect(option(`postgres://u@h/d?sslmode=require&sslcert=${CERT}&sslkey=${KEY}&sslpassword=pw`)).toMatchObject({ rejectUnauthorized: false, cert: pem(CERT), passphrase: 'pw' })
    expect(issue(`postgres://u@h/d?sslmode=require&sslcert=${CERT}`)).toEqual({ issue: 'sslcert and sslkey go together' })
    // postgres.js falls back to plain TCP only for a bare 'prefer': a certificate could not go.
    expect(issue(`postgres://u@h/d?sslmode=prefer&sslcert=${CERT}&sslkey=${KEY}`)).toEqual({ issue: 'a client certificate (sslcert) needs sslmode=require or stronger, got prefer' })
  })

  test('protocol versions map to minVersion and maxVersion', () => {
    expect(option('postgres://u@h/d?sslmode=require&ssl_min_protocol_version=TLSv1.3')).toEqual({ rejectUnauthorized: false, minVersion: 'TLSv1.3' })
    expect(issue('postgres://u@h/d?sslmode=require&ssl_max_protocol_version=1.3')).toEqual({ issue: 'ssl_max_protocol_version must be one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, got "1.3"' })
  })

  test('libpq parameters leave the URL, the others stay, and a URL without them is untouched', () => {
    const s = settings(`postgres://u:p%40ss@h:5433/d?sslmode=verify-full&sslrootcert=${CA}&sslsni=1&channel_binding=prefer&application_name=x&options=-c%20search_path%3Dx`)
    expect(s.url).toBe('postgres://u:p%40ss@h:5433/d?application_name=x&options=-c+search_path%3Dx')
    expect(settings('postgres://u:p%40ss@h/d').url).toBe('postgres://u:p%40ss@h/d')
    expect(settings('postgres://u@[::1]:5432/d?sslmode=verify-full').host).toBe('::1')
  })

  test('what postgres.js cannot honour is refused, not ignored', () => {
    expect(issue('postgres://u@h/d?channel_binding=require')).toEqual({ issue: 'channel_binding=require is not supported (postgres.js cannot honour it); remove it' })
    expect(issue('postgres://u@h/d?sslcrldir=/etc/crl')).toEqual({ issue: 'sslcrldir=/etc/crl is not supported (postgres.js cannot honour it); remove it' })
    // A misspelt TLS parameter would reach the server as a setting and fail every connection.
    expect(issue('postgres://u@h/d?sslmod=verify-full')).toEqual({ issue: 'unknown parameter sslmod (sslmode?): not a libpq TLS parameter' })
    expect(issue('postgres://u@h/d?ssl=true')).toEqual({ issue: 'unknown parameter ssl (node-postgres style: use sslmode=require to encrypt, sslmode=verify-full to verify too): not a libpq TLS parameter' })
    expect(issue('postgres://u@h/d?sslnegotiation=direct&application_name=x')).toMatchObject({ mode: 'disable' })
  })

  test('a certificate file that cannot be read, or used, is named with its parameter', () => {
    expect(() => option('postgres://u@h/d?sslmode=verify-full&sslrootcert=/missing.pem')).toThrow('DATABASE_URL sslrootcert=/missing.pem: cannot read it (ENOENT)')
    const notPem = path.join(FIXTURES, 'not-pem.txt')
    expect(() => option(`postgres://u@h/d?sslmode=verify-full&sslrootcert=${notPem}`)).toThrow(`DATABASE_URL sslrootcert=${notPem}: not usable`)
    const otherKey = path.join(FIXTURES, 'other.key')
    expect(() => option(`postgres://u@h/d?sslmode=require&sslcert=${CERT}&sslkey=${otherKey}`)).toThrow(`DATABASE_URL sslcert=${CERT} sslkey=${otherKey}: not usable`)
  })

  test('databaseTls works it out once: the URL without the parameters and the option with the files read', () => {
    expect(databaseTls(`postgres://u@h/d?sslmode=verify-ca&sslrootcert=${CA}`, 'postgres')).toMatchObject({ url: 'postgres://u@h/d', ssl: { ca: pem(CA) } })
    expect(() => databaseTls('postgres://u@h/d?sslmode=nope', 'postgres')).toThrow('DATABASE_URL: sslmode must be one of')
  })

  test('an unknown sslmode is a configuration error naming DATABASE_URL', () => {
    const r = loadConfig({ DATABASE_URL: 'postgres://u@h/d?sslmode=verify' }, [])
    expect(r.ok ? [] : r.issues).toEqual([{ option: 'DATABASE_URL', message: 'sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got "verify"' }])
  })
})
