/** A test database behind a proxy that starts closed: the collector sees it as down. */
import type { TestDatabase } from './database.ts'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts'

export function downDatabase(db: TestDatabase): { proxy: TcpProxy; url: string } {
  const target = new URL(db.url)
  const proxy = startTcpProxy({ hostname: target.hostname === 'localhost' ? '127.0.0.1' : target.hostname, port: Number(target.port || 5432) })
  proxy.close() // keep its port: nothing listens there until open()
  const url = new URL(db.url)
  url.port = String(proxy.port)
  return { proxy, url: url.href }
}
