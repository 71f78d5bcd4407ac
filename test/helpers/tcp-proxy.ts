/**
 * A loopback TCP proxy to a database, for outages on demand: while it is closed its port
 * refuses connections (as a database that is down does), opened again it forwards.
 */
import type { Socket, TCPSocketListener } from 'bun'

interface Pipe { upstream: Socket<Pipe> | null; queued: Uint8Array[]; closed: boolean }

/** Writes `data`, keeping what the socket did not take for its drain event. */
function send(socket: Socket<unknown>, pending: Uint8Array[], data: Uint8Array): void {
  if (pending.length > 0) { pending.push(data); return }
  const n = socket.write(data)
  if (n < data.length) pending.push(data.subarray(Math.max(0, n)))
}

function flush(socket: Socket<unknown>, pending: Uint8Array[]): void {
  while (pending.length > 0) {
    const head = pending[0] as Uint8Array
    const n = socket.write(head)
    if (n < head.length) { pending[0] = head.subarray(Math.max(0, n)); return }
    pending.shift()
  }
}

export interface TcpProxy { port: number; open(): void; close(): void }

/** A proxy on 127.0.0.1:`port` (0: any free port) to `target`, closed until `open()`. */
export function tcpProxy(target: { host: string; port: number }, port = 0): TcpProxy {
  let listener: TCPSocketListener<Pipe> | null = null
  let chosen = port
  const clients = new Set<Socket<Pipe>>()
  const toClient = new Map<Socket<Pipe>, Uint8Array[]>()
  const toUpstream = new Map<Socket<Pipe>, Uint8Array[]>()
  const open = () => {
    if (listener) return
    listener = Bun.listen<Pipe>({
      hostname: '127.0.0.1',
      port: chosen,
      socket: {
        open(client) {
          client.data = { upstream: null, queued: [], closed: false }
          clients.add(client)
          toClient.set(client, [])
          void Bun.connect<Pipe>({
            hostname: target.host,
            port: target.port,
            socket: {
              open(up) {
                if (client.data.closed) { up.end(); return }
                client.data.upstream = up
                toUpstream.set(up, [])
                for (const chunk of client.data.queued) send(up, toUpstream.get(up) as Uint8Array[], chunk)
                client.data.queued = []
              },
              data(_, chunk) { send(client, toClient.get(client) as Uint8Array[], new Uint8Array(chunk)) },
              drain(up) { flush(up, toUpstream.get(up) ?? []) },
              close() { client.end() },
              error() { client.end() },
            },
          }).catch(() => client.end())
        },
        data(client, chunk) {
          const up = client.data.upstream
          if (up) send(up, toUpstream.get(up) as Uint8Array[], new Uint8Array(chunk))
          else client.data.queued.push(new Uint8Array(chunk))
        },
        drain(client) { flush(client, toClient.get(client) ?? []) },
        close(client) { client.data.closed = true; client.data.upstream?.end(); clients.delete(client) },
        error(client) { client.data.closed = true; client.data.upstream?.end() },
      },
    })
    chosen = listener.port
  }
  open()
  return {
    get port() { return chosen },
    open,
    close() {
      listener?.stop(true)
      listener = null
      for (const c of clients) { c.data.upstream?.terminate(); c.terminate() }
      clients.clear()
    },
  }
}
