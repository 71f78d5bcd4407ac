/**
 * A fresh database per test file: with TEST_DATABASE_URL, a new database on that server
 * (dropped afterwards); without it, an embedded PGlite in a temporary directory, so
 * `npm test` also passes on a machine with no PostgreSQL at all.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startEmbedded } from '../../src/db/embedded.ts'
import { COLUMN_TYPES } from '../../src/db/connect.ts'

export interface TestDatabase {
  url: string
  sql: postgres.Sql
  kind: 'postgres' | 'embedded'
  drop(): Promise<void>
}

export const hasServer = (): boolean => Boolean(process.env.TEST_DATABASE_URL)

/**
 * The first letters of every database a test creates on TEST_DATABASE_URL's server: `t_`, or
 * TEST_DATABASE_PREFIX, so several checkouts sharing one server each keep to names of their own.
 */
export const databasePrefix = (): string => process.env.TEST_DATABASE_PREFIX ?? 't_'

export async function freshDatabase(label: string): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL
  if (serverUrl) {
    const name = `${databasePrefix()}${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${Math.floor(Math.random() * 1e6)}`
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database "${name}"`)
    await admin.end()
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    const sql = postgres(url.href, { max: 2, onnotice: () => {}, types: COLUMN_TYPES })
    return {
      url: url.href,
      sql,
      kind: 'postgres',
      async drop() {
        await sql.end({ timeout: 1 })
        const a = postgres(serverUrl, { max: 1, onnotice: () => {} })
        await a.unsafe(`drop database if exists "${name}" with (force)`)
        await a.end()
      },
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pdc-${label}-`))
  // On TCP, as an external server is: tests point a collector at its URL, some through a proxy.
  const embedded = await startEmbedded({ dataDir: dir, port: 0 })
  const sql = postgres(embedded.url, { max: 1, onnotice: () => {}, types: COLUMN_TYPES })
  return {
    url: embedded.url,
    sql,
    kind: 'embedded',
    async drop() {
      await sql.end({ timeout: 1 })
      await embedded.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const tempDir = (label: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `pdc-${label}-`))
