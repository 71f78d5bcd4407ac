import { expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { closeFilesInside, descriptorsInside } from '../../src/db/left-open.ts'
import { tempDir } from '../helpers/database.ts'

test('the files inside a directory: its files and those under it, removed ones too, not the directory itself nor a sibling sharing its name\'s start', () => {
  const links = new Map<number, string>([
    [3, '/var/lib/collector/pglite/base/5/1247'],
    [4, '/var/lib/collector/pglite/pg_wal/000000010000000000000001 (deleted)'],
    [5, '/var/lib/collector/collector.lock'],
    [6, '/var/lib/collector/pglite'],
    [7, '/var/lib/collector/pglite-old/base/5/1247'],
    [8, 'socket:[1234]'],
  ])
  expect(descriptorsInside(links, '/var/lib/collector/pglite')).toEqual([3, 4])
  expect(descriptorsInside(links, '/var/lib/collector/pglite/')).toEqual([3, 4])
})

test.skipIf(process.platform !== 'linux')('closes what is open inside the directory, reached through a symlink too, and nothing outside it', () => {
  const dir = tempDir('left-open')
  try {
    fs.mkdirSync(path.join(dir, 'inside'))
    fs.symlinkSync(path.join(dir, 'inside'), path.join(dir, 'link'))
    const inside = fs.openSync(path.join(dir, 'inside', 'a'), 'w')
    const outside = fs.openSync(path.join(dir, 'b'), 'w')
    expect(closeFilesInside(path.join(dir, 'link'))).toBe(1)
    expect(() => fs.fstatSync(inside)).toThrow()
    expect(fs.fstatSync(outside).isFile()).toBe(true)
    fs.closeSync(outside)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
