import { describe, expect, test } from 'bun:test'
import { utf16Bytes, utf16Order, utf16Units } from '../../src/events/utf16.ts'

const le = (text: string) => Buffer.from(text, 'utf16le')
const be = (text: string) => Buffer.from(text, 'utf16le').swap16()
const bytes = (...parts: (number[] | Buffer)[]) => Buffer.concat(parts.map((p) => Buffer.from(p)))

describe('the byte order of a UTF-16 body', () => {
  test.each([
    ['a mark FF FE, none declared', bytes([0xff, 0xfe], le('{}')), undefined, 'utf-16le'],
    ['a mark FE FF, none declared', bytes([0xfe, 0xff], be('{}')), undefined, 'utf-16be'],
    ['JSON without a mark, little-endian (RFC 4627: xx 00 xx 00)', le('{"a":1}'), undefined, 'utf-16le'],
    ['JSON without a mark, big-endian (RFC 4627: 00 xx 00 xx)', be('{"a":1}'), undefined, 'utf-16be'],
    ['a charset no decoder knows: as none declared', be('{"a":1}'), 'utf16', 'utf-16be'],
    ['charset=utf-16 with FE FF: big-endian, not WHATWG\'s little', bytes([0xfe, 0xff], be('{}')), 'utf-16', 'utf-16be'],
    ['charset=utf-16 and JSON without a mark, big-endian', be('{}'), 'utf-16', 'utf-16be'],
    ['charset=utf-16 with FF FE', bytes([0xff, 0xfe], le('{}')), 'utf-16', 'utf-16le'],
    ['charset=utf-16 showing nothing: WHATWG\'s little-endian', le('\u65e5\u672c'), 'utf-16', 'utf-16le'],
    ['charset=ucs-2 with FE FF', bytes([0xfe, 0xff], be('{}')), 'UCS-2', 'utf-16be'],
    ['charset=utf-16le is taken at its word, whatever the bytes', bytes([0xfe, 0xff], be('{}')), 'utf-16le', 'utf-16le'],
    ['charset=utf-16be is taken at its word, whatever the bytes', le('{}'), 'utf-16be', 'utf-16be'],
  ])('%s', (_name, body, charset, order) => {
    expect(utf16Order(body, charset)).toBe(order as ReturnType<typeof utf16Order>)
  })

  test.each([
    ['UTF-8 JSON', Buffer.from('{"a":1}'), undefined],
    ['too short to show', Buffer.from([0x7b, 0x00, 0x7d]), undefined],
    ['UTF-32LE JSON (xx 00 00 00)', Buffer.from([0x7b, 0, 0, 0, 0x7d, 0, 0, 0]), undefined],
    ['UTF-32BE JSON (00 00 00 xx)', Buffer.from([0, 0, 0, 0x7b, 0, 0, 0, 0x7d]), undefined],
    ['Latin-1 it declared, with a mark\'s bytes', bytes([0xff, 0xfe], le('{}')), 'iso-8859-1'],
    ['UTF-8 it declared', le('{}'), 'utf-8'],
  ])('not UTF-16: %s', (_name, body, charset) => {
    expect(utf16Order(body, charset)).toBeNull()
  })

  test('code units read and written back are the bytes, lone surrogates and all; an odd last byte is left out', () => {
    const body = Buffer.from([0x7b, 0x00, 0x00, 0xd8, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xdc, 0x7d, 0x00])
    for (const order of ['utf-16le', 'utf-16be'] as const) {
      const ordered = order === 'utf-16le' ? body : Buffer.from(body).swap16()
      const text = utf16Units(ordered, order)
      expect(text).toBe('{\ud800\ud83d\ude00\udc00}')
      expect(Buffer.from(utf16Bytes(text, order)).equals(ordered)).toBe(true)
      expect(utf16Units(Buffer.concat([ordered, Buffer.from([0x41])]), order)).toBe(text)
    }
  })
})
