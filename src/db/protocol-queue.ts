/**
 * PGlite is one PostgreSQL session; @electric-sql/pglite-socket (0.2.17) shares it between
 * connections by queueing wire-protocol messages, keeping a connection's turn only while a
 * transaction is open. Outside one, another connection's Parse/Bind can land between this
 * connection's Bind and Execute, and queries fail with `portal "" does not exist` or read
 * another client's unnamed statement. With `--embedded-pg-port`, the writer and a psql user
 * share the session, so we keep each connection's turn from its first message to its Sync
 * (or simple Query), as well as across transactions.
 *
 * Named prepared statements live in that one session too: a client's `S_1` (JDBC, pgx,
 * psycopg, asyncpg name theirs alike in every connection) met another's, or one left by a
 * client gone, as `prepared statement "S_1" already exists`, and every statement of a closed
 * connection (postgres.js prepares each query) stayed for good, ~45 KiB a connection. So each
 * connection's statement names are its own (prefixed with its handler id on the way in), and
 * what it prepared is deallocated once it disconnects.
 *
 * This replaces the queue's `processQueue` on the server instance; it relies on the
 * package's private field names, pinned by the exact version in package.json and checked
 * here at start so an upgrade fails loudly instead of interleaving silently.
 */
import type { PGlite } from '@electric-sql/pglite'
import type { Socket } from 'node:net'
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket'

interface QueueItem {
  handlerId: number
  message: Uint8Array
  resolve: (bytes: number) => void
  reject: (error: unknown) => void
  onData: (data: Uint8Array) => void
}

interface QueueInternals {
  queue: QueueItem[]
  processing: boolean
  lastHandlerId: number | null
  db: PGlite
  processQueue(): Promise<void>
  clearQueueForHandler(handlerId: number): void
}

const SYNC = 0x53 // 'S'
/** SSLRequest and GSSENCRequest: the codes in place of a startup packet's protocol version. */
const ENCRYPTION_REQUESTS = new Set([80877103, 80877104])
const QUERY = 0x51 // 'Q'
const TERMINATE = 0x58 // 'X'

/**
 * Frontend messages passed to PGlite: a startup packet (first byte 0), then Query, Parse,
 * Bind, Describe, Execute, Close, Sync, Flush, Terminate, FunctionCall, password. Anything
 * else (a client's CopyData/CopyDone/CopyFail, or garbage) is never passed: PGlite answers it
 * with a FATAL, and the message after that spins inside the WebAssembly for good, the whole
 * collector with it. Such a message is dropped; that client's session is its own problem.
 */
const FORWARDED = new Set([0, ...'QPBDECSHXFp'].map((c) => (typeof c === 'number' ? c : c.charCodeAt(0))))

/** A backend message: type byte, length, body. */
function backendMessage(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length)
  out[0] = type.charCodeAt(0)
  new DataView(out.buffer).setInt32(1, 4 + body.length)
  out.set(body, 5)
  return out
}

/** ErrorResponse (feature not supported) then ReadyForQuery, as the server would answer a refused query. */
function refusal(message: string, inTransaction: boolean): Uint8Array {
  const fields = new TextEncoder().encode(`SERROR\0VERROR\0C0A000\0M${message}\0\0`)
  const error = backendMessage('E', fields)
  const ready = backendMessage('Z', new Uint8Array([(inTransaction ? 'T' : 'I').charCodeAt(0)]))
  const out = new Uint8Array(error.length + ready.length)
  out.set(error)
  out.set(ready, error.length)
  return out
}

/**
 * A simple Query that would start COPY ... FROM STDIN (psql's `\copy ... from`): PGlite
 * cannot take it over the wire (it exits, or loses the protocol's sync and spins for good,
 * the whole collector with it), so it is answered here instead of passed on.
 */
function copyFromStdin(message: Uint8Array): boolean {
  if (message[0] !== QUERY) return false
  const text = new TextDecoder().decode(message.subarray(5)).replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ')
  return /^\s*copy\b[\s\S]*\bfrom\s+stdin\b/i.test(text)
}

const PARSE = 0x50 // 'P'
const BIND = 0x42 // 'B'
const DESCRIBE = 0x44 // 'D'
const CLOSE = 0x43 // 'C'
const STATEMENT = 0x53 // 'S', in Describe and Close

/** The C string at `at` in `message`, and the offset past its terminator; null if unterminated. */
function cString(message: Uint8Array, at: number): { text: string; end: number } | null {
  const zero = message.indexOf(0, at)
  return zero === -1 ? null : { text: new TextDecoder().decode(message.subarray(at, zero)), end: zero + 1 }
}

/**
 * The prepared statement a message names (Parse defines it; Bind, Describe and Close of a
 * statement use it), with where its name lies. Null for the unnamed statement, which lasts
 * only until the client's Sync, while the client holds the session anyway.
 */
function namedStatement(message: Uint8Array): { name: string; start: number; end: number } | null {
  const type = message[0]
  let at = 5
  if (type === BIND) {
    const portal = cString(message, at)
    if (!portal) return null
    at = portal.end
  } else if (type === DESCRIBE || type === CLOSE) {
    if (message[at] !== STATEMENT) return null
    at++
  } else if (type !== PARSE) {
    return null
  }
  const found = cString(message, at)
  return found && found.text !== '' ? { name: found.text, start: at, end: found.end - 1 } : null
}

/** `message` with the statement it names renamed to `name`, its length field updated. */
function renamed(message: Uint8Array, statement: { start: number; end: number }, name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name)
  const out = new Uint8Array(message.length - (statement.end - statement.start) + bytes.length)
  out.set(message.subarray(0, statement.start))
  out.set(bytes, statement.start)
  out.set(message.subarray(statement.end), statement.start + bytes.length)
  new DataView(out.buffer).setInt32(1, out.length - 1)
  return out
}

/** The last six bytes of a response so far (`before`) and its next `chunk`: enough to see how it ends. */
export function tailOf(before: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (chunk.length >= 6) return chunk.slice(chunk.length - 6)
  const joined = new Uint8Array(before.length + chunk.length)
  joined.set(before)
  joined.set(chunk, before.length)
  return joined.slice(Math.max(0, joined.length - 6))
}

/** Does a response whose last bytes are `tail` end with ReadyForQuery ('Z', length 5, a status byte)? */
export const endsReadyForQuery = (tail: Uint8Array): boolean =>
  tail.length === 6 && tail[0] === 0x5a && tail[1] === 0 && tail[2] === 0 && tail[3] === 0 && tail[4] === 5

/** Does this message end a unit of work? Startup packets begin with a length, first byte 0. */
const endsSequence = (message: Uint8Array): boolean => {
  const type = message[0]
  return type === SYNC || type === QUERY || type === TERMINATE || type === 0
}

/**
 * `onWedged`: PGlite answered a Query or a Sync without the ReadyForQuery that ends every such
 * answer. PGlite 0.5.14 does so on `convert_to(x, 'WIN1252')`: it sends the RowDescription and
 * nothing more, answers the next connection's statement with that query's leftovers (an
 * INSERT of the writer's seemed to succeed with no rows: its events counted as duplicates,
 * never loaded), then spins in the WebAssembly for good, where even terminating its thread
 * cannot stop it. From then on nothing more is passed to it: the clients wait until the
 * database is restarted (src/app.ts), which closes their connections.
 */
export function keepProtocolSequencesWhole(server: PGLiteSocketServer, onWedged: () => void = () => {}): void {
  const q = (server as unknown as { queryQueue?: QueueInternals }).queryQueue
  if (!q || !Array.isArray(q.queue) || typeof q.processQueue !== 'function' || typeof q.clearQueueForHandler !== 'function') {
    throw new Error('@electric-sql/pglite-socket changed its internals: the embedded database cannot safely serve several connections')
  }
  let owner: number | null = null // the connection between its first message and its Sync
  // The statements each connection has prepared (by their names in the session), and those
  // of connections gone, to deallocate once no transaction holds the session.
  const statements = new Map<number, Set<string>>()
  const orphaned: string[] = []
  const clear = q.clearQueueForHandler.bind(q)
  q.clearQueueForHandler = (handlerId) => {
    if (owner === handlerId) owner = null // it disconnected mid-sequence
    orphaned.push(...statements.get(handlerId) ?? [])
    statements.delete(handlerId)
    clear(handlerId)
  }
  let wedged = false
  q.processQueue = async () => {
    if (wedged || q.processing || q.queue.length === 0) return
    q.processing = true
    try {
      while (q.queue.length > 0) {
        const holder = owner ?? (q.db.isInTransaction() ? q.lastHandlerId : null)
        const index = holder === null ? 0 : q.queue.findIndex((item) => item.handlerId === holder)
        if (index === -1) break // the holder's next message will restart the queue
        const [item] = q.queue.splice(index, 1) as [QueueItem]
        if (!FORWARDED.has(item.message[0] as number)) {
          item.resolve(0)
          continue
        }
        if (copyFromStdin(item.message)) {
          const answer = refusal('COPY FROM STDIN is not supported on the embedded database port; use COPY TO, or PostgreSQL', q.db.isInTransaction())
          item.onData(answer)
          item.resolve(answer.length)
          continue
        }
        let bytes = 0
        let tail: Uint8Array = new Uint8Array(0)
        try {
          // The session passes to another connection: settings one client SET (psql's
          // client_encoding, default_transaction_read_only) must not apply to the next one,
          // the writer included. Outside a transaction only; costs nothing while one client
          // (the writer) has the session to itself.
          if (q.lastHandlerId !== null && item.handlerId !== q.lastHandlerId && !q.db.isInTransaction()) {
            await q.db.exec('RESET ALL')
          }
          // Between sequences only: a query of ours between a client's Bind and Execute ends
          // its implicit transaction, and its unnamed portal with it.
          while (orphaned.length > 0 && owner === null && !q.db.isInTransaction()) {
            // Already gone if its Parse failed or the client closed it: nothing to do then.
            await q.db.exec(`DEALLOCATE "${(orphaned.pop() as string).replaceAll('"', '""')}"`).catch(() => {})
          }
          let message = item.message
          const statement = namedStatement(message)
          if (statement) {
            const name = `c${item.handlerId}_${statement.name}`
            message = renamed(message, statement, name)
            const own = statements.get(item.handlerId) ?? new Set<string>()
            statements.set(item.handlerId, own)
            if (message[0] === PARSE) own.add(name)
            else if (message[0] === CLOSE) own.delete(name)
          }
          await q.db.runExclusive(() => q.db.execProtocolRawStream(message, {
            onRawData: (data: Uint8Array) => { bytes += data.length; tail = tailOf(tail, data); item.onData(data) },
          }))
        } catch (error) {
          owner = null
          item.reject(error)
          continue
        }
        q.lastHandlerId = item.handlerId
        owner = endsSequence(item.message) ? null : item.handlerId
        item.resolve(bytes)
        if ((item.message[0] === QUERY || item.message[0] === SYNC) && !endsReadyForQuery(tail)) {
          wedged = true
          onWedged()
          break
        }
      }
    } finally {
      q.processing = false
    }
  }
}

/**
 * The package refuses a connection over its limit by closing it at once (net's
 * maxConnections) or by writing `Too many connections` as raw text: psql said "server closed
 * the connection unexpectedly ... terminated abnormally". Over `max`, a client gets what
 * PostgreSQL sends instead: a FATAL ErrorResponse, too_many_connections (53300).
 */
export function refuseConnectionsBeyond(server: PGLiteSocketServer, max: number): void {
  const s = server as unknown as { handlers?: Set<unknown>; maxConnections?: number; handleConnection?: (socket: Socket) => void }
  const handle = s.handleConnection?.bind(server)
  if (!(s.handlers instanceof Set) || typeof s.maxConnections !== 'number' || !handle) {
    throw new Error('@electric-sql/pglite-socket changed its internals: the embedded database cannot refuse connections over its limit cleanly')
  }
  s.maxConnections = Number.POSITIVE_INFINITY
  s.handleConnection = (socket) => {
    if ((s.handlers as Set<unknown>).size < max) return handle(socket)
    const fields = new TextEncoder().encode(`SFATAL\0VFATAL\0C53300\0Msorry, too many clients already: the embedded database serves ${max} connections, the collector's included\0\0`)
    // As PostgreSQL does: the error answers the startup packet. An SSL or GSS encryption
    // request before it is declined ('N'): libpq hides an error sent in its place.
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('error', () => {})
    socket.on('data', (data: Buffer) => {
      if (data.length === 8 && ENCRYPTION_REQUESTS.has(data.readInt32BE(4))) socket.write('N')
      else socket.end(backendMessage('E', fields))
    })
  }
}
