/**
 * Spool record framing: [magic u32][length u32][events u32][crc u32][payload].
 * The CRC (CRC-32, Bun's native implementation) covers length, events and payload, so a
 * torn write or a flipped bit anywhere is caught; the magic lets a reader resynchronise on
 * the next good record after a damaged one instead of giving up on the rest of the file.
 */
export const MAGIC = 0x50_44_53_31 // "PDS1"
export const HEADER_BYTES = 16
/** A single request is bounded by MAX_BODY_BYTES; this only guards against absurd lengths. */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024

/** A record's payload: bytes, text stored as UTF-8, or parts of either stored one after another. */
export type Payload = Uint8Array | string | readonly (Uint8Array | string)[]

const partLength = (part: Uint8Array | string): number => (typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length)

const partsOf = (payload: Payload): readonly (Uint8Array | string)[] =>
  typeof payload === 'string' || payload instanceof Uint8Array ? [payload] : payload

/** Bytes the payload takes in a frame (UTF-8 for text). */
export function payloadLength(payload: Payload): number {
  let length = 0
  for (const part of partsOf(payload)) length += partLength(part)
  return length
}

/**
 * Writes the frame of `payload` (`length` bytes, from `payloadLength`) into `buf` at `at`;
 * returns the frame's size. The spool encodes a whole group commit into one buffer this
 * way: no allocation per request and no copy to join them (both were in the accept path's
 * profile, ~14% together). Text goes in as UTF-8, a webhook's body as the bytes received.
 */
export function encodeFrameInto(buf: Buffer, at: number, payload: Payload, length: number, events: number): number {
  buf.writeUInt32BE(MAGIC, at)
  buf.writeUInt32BE(length, at + 4)
  buf.writeUInt32BE(events, at + 8)
  let p = at + HEADER_BYTES
  for (const part of partsOf(payload)) {
    if (typeof part === 'string') p += buf.write(part, p, 'utf8')
    else { buf.set(part, p); p += part.length }
  }
  if (p !== at + HEADER_BYTES + length) throw new Error(`frame payload is ${p - at - HEADER_BYTES} bytes, expected ${length}`)
  buf.writeUInt32BE(frameCrc(buf, length, at), at + 12)
  return HEADER_BYTES + length
}

/** One frame in a buffer of its own. */
export function encodeFrame(payload: Payload, events: number): Buffer {
  const length = payloadLength(payload)
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length)
  encodeFrameInto(frame, 0, payload, length, events)
  return frame
}

function frameCrc(buf: Uint8Array, length: number, at = 0): number {
  // CRC over bytes 4..12 (length, events) and the payload; the crc field itself is skipped.
  const head = Bun.hash.crc32(buf.subarray(at + 4, at + 12))
  return Bun.hash.crc32(buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length), head) >>> 0
}

export type FrameAt =
  | { kind: 'record'; length: number; events: number; payload: Uint8Array; size: number }
  | { kind: 'incomplete' }
  | { kind: 'corrupt' }

/** Decodes the frame at `at` in `buf`, which holds the file's bytes from some offset. */
export function decodeFrame(buf: Uint8Array, at: number): FrameAt {
  if (buf.length - at < HEADER_BYTES) return { kind: 'incomplete' }
  const view = new DataView(buf.buffer, buf.byteOffset + at, HEADER_BYTES)
  if (view.getUint32(0) !== MAGIC) return { kind: 'corrupt' }
  const length = view.getUint32(4)
  if (length > MAX_PAYLOAD_BYTES) return { kind: 'corrupt' }
  if (buf.length - at < HEADER_BYTES + length) return { kind: 'incomplete' }
  if (frameCrc(buf, length, at) !== view.getUint32(12)) return { kind: 'corrupt' }
  return { kind: 'record', length, events: view.getUint32(8), payload: buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length), size: HEADER_BYTES + length }
}

/** Offset of the next MAGIC at or after `from`, or -1. */
export function findMagic(buf: Uint8Array, from: number): number {
  for (let i = from; i + 4 <= buf.length; i++) {
    if (buf[i] === 0x50 && buf[i + 1] === 0x44 && buf[i + 2] === 0x53 && buf[i + 3] === 0x31) return i
  }
  return -1
}
