import { expect, test } from 'bun:test'
import { formatUtc, generalUtc, toUtcTimestamp } from '../../src/events/timestamp.ts'

test.each([
  ['2016-02-22T21:02:55Z', '2016-02-22 21:02:55'],
  ['2014-11-12T18:53:47 00:00', '2014-11-12 18:53:47'],
  ['2014-11-12T18:53:47+00:00', '2014-11-12 18:53:47'],
  ['2016-02-22T13:07:55-08:00', '2016-02-22 21:07:55'],
  ['2016-02-22T23:30:00+05:30', '2016-02-22 18:00:00'],
  ['2016-12-31T23:30:00-0100', '2017-01-01 00:30:00'],
  ['2021-07-29T12:17:45.123Z', '2021-07-29 12:17:45.123'],
  ['2021-07-29T12:17:45.123456789+02:00', '2021-07-29 10:17:45.123456'],
  ['2021-07-29T12:17:45', '2021-07-29 12:17:45'],
  // A space before the time, no seconds, no offset: the time is not a " 00:00" offset.
  ['2016-02-22 13:07', '2016-02-22 13:07:00'],
  ['2016-02-22 13:07 00:00', '2016-02-22 13:07:00'],
  ['2016-02-22 13:07 05:30', '2016-02-22 07:37:00'],
  ['2014-11-12T18:53:47.250 00:00', '2014-11-12 18:53:47.250'],
  ['not a date', null],
  ['2021-13-01T00:00:00Z', null],
  // Out of range is NULL, never rolled into the next month or read in another century.
  ['2016-02-30T00:00:00Z', null],
  ['2016-02-30T00:00:00+01:00', null],
  ['2015-02-29T12:00:00-05:00', null],
  ['2016-02-29T23:00:00-05:00', '2016-03-01 04:00:00'],
  ['0099-01-01T00:00:00+00:00', '0099-01-01 00:00:00'],
  ['0000-06-01T00:00:00Z', null],
  ['0001-01-01T00:30:00+01:00', null],
  ['2016-02-22T13:07:55+2400', null],
  ['2016-02-22T13:07:55+14:00', '2016-02-21 23:07:55'],
  [null, null],
  [1700000000, null],
])('%p is stored as %p (UTC)', (input, expected) => {
  expect(toUtcTimestamp(input)).toBe(expected)
})

test('formatUtc gives the timestamp text the tables use', () => {
  expect(formatUtc(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02 03:04:05.006')
})

test('the fast path for `...Z` timestamps gives what the general path gives, edges included', () => {
  const two = (n: number) => String(n).padStart(2, '0')
  const samples: string[] = [
    '2024-02-29T12:00:00Z', '2023-02-29T12:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z', '2021-04-31T00:00:00Z',
    '2021-12-31T23:59:59Z', '2021-12-31T23:59:60Z', '2021-01-01T24:00:00Z', '2021-01-01T00:60:00Z', '2021-00-10T00:00:00Z',
    '2021-01-00T00:00:00Z', '0099-05-05T05:05:05Z', '0100-05-05T05:05:05Z', '2021-07-29T12:17:45.1234567Z', '2021-07-29T12:17:45.Z',
  ]
  let seed = 7
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  for (let i = 0; i < 5000; i++) {
    const frac = rand(3) === 0 ? '' : `.${String(rand(10 ** 9)).slice(0, 1 + rand(9))}`
    samples.push(`${String(1 + rand(2999)).padStart(4, '0')}-${two(rand(14))}-${two(rand(33))}T${two(rand(26))}:${two(rand(62))}:${two(rand(62))}${frac}Z`)
  }
  for (const s of samples) expect([s, toUtcTimestamp(s)]).toEqual([s, generalUtc(s)])
})
