import { expect, test } from 'bun:test'
import { formatUtc, toUtcTimestamp } from '../../src/events/timestamp.ts'

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
  ['not a date', null],
  ['2021-13-01T00:00:00Z', null],
  [null, null],
  [1700000000, null],
])('%p is stored as %p (UTC)', (input, expected) => {
  expect(toUtcTimestamp(input)).toBe(expected)
})

test('formatUtc gives the timestamp text the tables use', () => {
  expect(formatUtc(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02 03:04:05.006')
})
