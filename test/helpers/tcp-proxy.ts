/**
 * A loopback TCP proxy we can cut: `close()` drops every connection and stops listening
 * (the database "goes away" for the collector), `open()` listens again on the same port.
 * `freeze()` silences the connections open now without closing them (what a NAT or firewall
 * that forgot them, or a failed-over server, looks like: no reset, no answer), while new
 * connections work. `retarget()` sends new connections to another server, the open ones
 * staying where they are (a DNS name moved by a failover). Used to simulate a database
 * outage in tests and in the benchmark.
 */
import type { Socket, TCPSocketListener } from 'bun'

/** `queue`: bytes waiting to be written to this socket; `early`: bytes read before the upstream connected. */
interface Pipe { peer: Socket<Pipe> | null; queue: Uint8Array[]; early: Uint8Array[]; frozen?: boolean }

function send(socket: Socket<Pipe>, data: Uint8Array): void {
  if (socket.data.frozen) return
  // Copies: Bun may reuse a read buffer once the data callback returns.
  if (socket.data.queue.length > 0) { socket.data.queue.push(data.slice()); return }
  const written = socket.write(data)
  if (written < data.length) socket.data.queue.push(data.slice(Math.max(0, written)))
}

function flush(socket: Socket<Pipe>): void {
  const queue = socket.data.queue
  while (queue.length > 0) {
    const head = queue[0] as Uint8Array
    const written = socket.write(head)
    if (written < head.length) { queue[0] = head.subarray(Math.max(0, written)); return }
    queue.shift()
  }
}

export interface TcpProxy {
  port: number
  open(): void
  close(): void
  /** The connections open now go silent (bytes either way are dropped), still open. */
  freeze(): void
  /** New connections go to `to`; the open ones stay connected where they are. */
  retarget(to: { hostname: string; port: number }): void
  stop(): void
}

export function startTcpProxy(initialTarget: { hostname: string; port: number }, port = 0): TcpProxy {
  let target = initialTarget
  const sockets = new Set<Socket<Pipe>>()
  let listener: TCPSocketListener<Pipe> | null = null
  let boundPort = port
  const listen = () => {
    listener = Bun.listen<Pipe>({
      hostname: '127.0.0.1',
      port: boundPort,
      socket: {
        async open(client) {
          client.data = { peer: null, queue: [], early: [] }
          sockets.add(client)
          try {
            const upstream = await Bun.connect<Pipe>({
              hostname: target.hostname,
              port: target.port,
              data: { peer: client, queue: [], early: [] },
              socket: {
                data: (s, chunk) => { if (s.data.peer) send(s.data.peer, chunk) },
                drain: (s) => flush(s),
                close: (s) => { sockets.delete(s); s.data.peer?.end() },
                error: (s) => { s.data.peer?.end() },
              },
            })
            sockets.add(upstream)
            client.data.peer = upstream
            for (const chunk of client.data.early.splice(0)) send(upstream, chunk)
          } catch {
            client.end()
          }
        },
        data(client, chunk) {
          if (client.data.peer) send(client.data.peer, chunk)
          else client.data.early.push(new Uint8Array(chunk))
        },
        drain: (client) => flush(client),
        close(client) { sockets.delete(client); client.data.peer?.end() },
        error(client) { client.data.peer?.end() },
      },
    })
    boundPort = listener.port
  }
  listen()
  return {
    get port() { return boundPort },
    open() { if (!listener) listen() },
    close() {
      listener?.stop(true)
      listener = null
      for (const s of sockets) s.terminate()
      sockets.clear()
    },
    freeze() { for (const s of sockets) s.data.frozen = true },
    retarget(to) { target = to },
    stop() { this.close() },
  }
}
