/** A test database behind a TCP proxy the test can cut, silence or reopen. */
import fs from 'node:fs'
import { startCollector, type Collector } from '../../src/app.ts'
import { createLog } from '../../src/log.ts'
import { testConfig } from './collector.ts'
import { freshDatabase, tempDir, type TestDatabase } from './database.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

/** `db` behind a proxy, and the URL that reaches it through the proxy. */
export function proxiedDatabase(db: TestDatabase): { proxy: TcpProxy; url: string } {
  const target = new URL(db.url)
  const proxy = startTcpProxy({ hostname: target.hostname === 'localhost' ? '127.0.0.1' : target.hostname, port: Number(target.port || 5432) })
  const url = new URL(db.url)
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  return { proxy, url: url.href }
}

/** The same, the proxy starting closed: the collector sees the database as down. */
export function downDatabase(db: TestDatabase): { proxy: TcpProxy; url: string } {
  const proxied = proxiedDatabase(db)
  proxied.proxy.close() // keep its port: nothing listens there until open()
  return proxied
}

export interface ProxiedCollector { db: TestDatabase; proxy: TcpProxy; dir: string; collector: Collector; stop(): Promise<void> }

/**
 * A fresh database behind a proxy, and a collector started in-process on it (settings from
 * `env`), its log lines, from `info` up, handed to `onLine`. `stop` undoes all of it.
 */
export async function startProxiedCollector(label: string, env: Record<string, string>, onLine: (line: string) => void): Promise<ProxiedCollector> {
  const db = await freshDatabase(label)
  const { proxy, url } = proxiedDatabase(db)
  const dir = tempDir(label)
  const collector = await startCollector(testConfig({ DATABASE_URL: url, DATA_DIR: dir, ...env }), createLog('info', onLine))
  return {
    db, proxy, dir, collector,
    async stop() {
      await collector.stop()
      proxy.stop()
      await db.drop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
