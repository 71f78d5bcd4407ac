/**
 * PGlite is one PostgreSQL session; @electric-sql/pglite-socket (0.2.17) shares it between
 * connections by queueing wire-protocol messages, keeping a connection's turn only while a
 * transaction is open. Outside one, another connection's Parse/Bind can land between this
 * connection's Bind and Execute, and queries fail with `portal "" does not exist` or read
 * another client's unnamed statement. With `--embedded-pg-port`, the writer and a psql user
 * share the session, so we keep each connection's turn from its first message to its Sync
 * (or simple Query), as well as across transactions.
 *
 * This replaces the queue's `processQueue` on the server instance; it relies on the
 * package's private field names, pinned by the exact version in package.json and checked
 * here at start so an upgrade fails loudly instead of interleaving silently.
 */
import type { PGlite } from '@electric-sql/pglite'
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
const QUERY = 0x51 // 'Q'
const TERMINATE = 0x58 // 'X'

/** Does this message end a unit of work? Startup packets begin with a length, first byte 0. */
const endsSequence = (message: Uint8Array): boolean => {
  const type = message[0]
  return type === SYNC || type === QUERY || type === TERMINATE || type === 0
}

export function keepProtocolSequencesWhole(server: PGLiteSocketServer): void {
  const q = (server as unknown as { queryQueue?: QueueInternals }).queryQueue
  if (!q || !Array.isArray(q.queue) || typeof q.processQueue !== 'function' || typeof q.clearQueueForHandler !== 'function') {
    throw new Error('@electric-sql/pglite-socket changed its internals: the embedded database cannot safely serve several connections')
  }
  let owner: number | null = null // the connection between its first message and its Sync
  const clear = q.clearQueueForHandler.bind(q)
  q.clearQueueForHandler = (handlerId) => {
    if (owner === handlerId) owner = null // it disconnected mid-sequence
    clear(handlerId)
  }
  q.processQueue = async () => {
    if (q.processing || q.queue.length === 0) return
    q.processing = true
    try {
      while (q.queue.length > 0) {
        const holder = owner ?? (q.db.isInTransaction() ? q.lastHandlerId : null)
        const index = holder === null ? 0 : q.queue.findIndex((item) => item.handlerId === holder)
        if (index === -1) break // the holder's next message will restart the queue
        const [item] = q.queue.splice(index, 1) as [QueueItem]
        let bytes = 0
        try {
          await q.db.runExclusive(() => q.db.execProtocolRawStream(item.message, {
            onRawData: (data: Uint8Array) => { bytes += data.length; item.onData(data) },
          }))
        } catch (error) {
          owner = null
          item.reject(error)
          continue
        }
        q.lastHandlerId = item.handlerId
        owner = endsSequence(item.message) ? null : item.handlerId
        item.resolve(bytes)
      }
    } finally {
      q.processing = false
    }
  }
}
