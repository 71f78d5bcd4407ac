/** A test database behind a TCP proxy the test can cut, silence or reopen. */
import type { TestDatabase } from './database.ts'
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
