/**
 * Infrastructure failures are exceptions classified at the boundary by a stable UPPER_SNAKE
 * code and a retryable flag (postgres.js style); expected outcomes are values, not these.
 */
export type ErrorCode =
  | 'SPOOL_FULL'
  | 'SPOOL_IO'
  | 'SPOOL_CLOSED'
  | 'SPOOL_CORRUPT'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_REJECTED'
  | 'MIGRATION_FAILED'
  | 'EMBEDDED_DATABASE_FAILED'
  | 'DATA_DIR_IN_USE'
  | 'LISTEN_FAILED'

export class CollectorError extends Error {
  override readonly name = 'CollectorError'
  constructor(readonly code: ErrorCode, message: string, readonly retryable: boolean, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/**
 * Node's words when the server hangs up during the TLS handshake, which is what a server
 * without TLS does under sslmode=require: said as libpq would, so the fix is evident.
 */
const TLS_HANGUP = 'Client network socket disconnected before secure TLS connection was established'

export const errorMessage = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  return message === TLS_HANGUP ? `${message} (does the server support SSL? sslmode=require and verify-* need it; the server closed the connection during the handshake)` : message
}
