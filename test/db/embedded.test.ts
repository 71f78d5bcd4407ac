/**
 * The embedded database over the wire protocol, with several clients at once (the writer
 * and a psql user): each client's extended-protocol sequence (Parse/Bind/Execute ... Sync)
 * must reach PGlite's single session without another client's messages in the middle. With
 * no port asked for, it listens on a Unix socket only its owner can open, not on TCP.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startEmbedded, syncFileSystemOf, type EmbeddedDatabase } from '../../src/db/embedded.ts'
import { eventually, postJson, spawnCollector } from '../helpers/collector.ts'
import { v1Body } from '../helpers/traffic.ts'
import { tempDir } from '../helpers/database.ts'

let dir: string
let db: EmbeddedDatabase
beforeAll(async () => {
  dir = tempDir('embedded')
  db = await startEmbedded({ dataDir: dir, port: 0 })
})
afterAll(async () => {
  await db.stop()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('three clients interleaving parameterised queries and transactions all get their own answers', async () => {
  const clients = [0, 1, 2].map(() => postgres(db.url, { max: 1, onnotice: () => {} }))
  const [a, b, c] = clients as [postgres.Sql, postgres.Sql, postgres.Sql]
  await a`create table if not exists t (client int, n int)`
  const work = (sql: postgres.Sql, client: number) => Promise.all(Array.from({ length: 100 }, async (_, n) => {
    if (n % 10 === 0) {
      await sql.begin(async (tx) => {
        await tx`insert into t values (${client}, ${n})`
        await tx`insert into t values (${client}, ${n + 1000})`
      })
      return n
    }
    const [row] = await sql`select ${n}::int + ${client * 10000}::int as v`
    return (row?.v as number) - client * 10000
  }))
  const results = await Promise.all([work(a, 1), work(b, 2), work(c, 3)])
  for (const r of results) expect(r).toEqual(Array.from({ length: 100 }, (_, n) => n))
  const [count] = await a`select count(*)::int as n from t`
  expect(count?.n).toBe(3 * 10 * 2)
  await Promise.all(clients.map((s) => s.end()))
}, 60_000)

test('flush makes PGlite\'s files durable: syncfs(2) on their file system (PGlite itself never fsyncs)', async () => {
  const strace = Bun.which('strace')
  if (!strace) {
    await db.flush() // at least it succeeds
    return
  }
  // The flush runs `sync -f` in a child process: trace that it calls syncfs and succeeds.
  const traced = Bun.spawnSync([strace, '-f', '-e', 'trace=syncfs', 'sync', '-f', `${dir}/pglite`], { stderr: 'pipe' })
  expect(traced.exitCode).toBe(0)
  expect(traced.stderr.toString()).toMatch(/syncfs\(\d+\)\s+= 0/)
  await db.flush()
})

test('without sync on PATH (a bare service PATH), or without any sync program, the flush still works', async () => {
  await syncFileSystemOf(path.join(dir, 'pglite'), null) // syncfs(2) through bun:ffi
  const strace = Bun.which('strace')
  if (strace) {
    // That path makes the call, on the file system's directory, and it succeeds.
    const module = path.join(import.meta.dir, '../../src/db/embedded.ts')
    const script = `const { syncFileSystemOf } = await import(${JSON.stringify(module)}); await syncFileSystemOf(${JSON.stringify(path.join(dir, 'pglite'))}, null)`
    const traced = Bun.spawnSync([strace, '-f', '-e', 'trace=syncfs', process.execPath, '-e', script], { stderr: 'pipe' })
    expect(traced.exitCode).toBe(0)
    expect(traced.stderr.toString()).toMatch(/syncfs\(\d+\)\s+= 0/)
  }
  await expect(syncFileSystemOf(path.join(dir, 'pglite'), '/nonexistent/sync')).rejects.toThrow('cannot flush the embedded database to disk')
  // The collector, embedded database, PATH with nothing on it: checkpoints go through, and the
  // loaded segments with them (they stayed, and the spool grew until full).
  const dataDir = tempDir('embedded-no-path')
  const collector = await spawnCollector({ DATA_DIR: dataDir, PATH: '/nonexistent', SPOOL_SEGMENT_BYTES: '4096' })
  try {
    for (let i = 0; i < 20; i++) expect((await postJson(`${collector.url}/com.pagerduty/v1`, v1Body([`no-path-${i}`]))).status).toBe(202)
    await eventually(async () => ((await (await fetch(`${collector.url}/ready`)).json()) as { spool: { backlog_events: number; segments: number } }).spool.segments === 1, 30_000, 'the loaded segments to go')
    expect(collector.output()).not.toContain('"level":"error"')
  } finally {
    collector.proc.kill('SIGTERM')
    await collector.proc.exited
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}, 60_000)

/** The startup packet of a protocol 3.0 client: user and database postgres. */
function startupPacket(): Uint8Array {
  const params = new TextEncoder().encode('user\0postgres\0database\0postgres\0\0')
  const startup = new Uint8Array(8 + params.length)
  new DataView(startup.buffer).setInt32(0, 8 + params.length)
  new DataView(startup.buffer).setInt32(4, 196608)
  startup.set(params, 8)
  return startup
}

/** A raw wire-protocol client: the startup packet, then `messages` one by one; returns what came back. */
async function rawSession(port: number, messages: Uint8Array[]): Promise<string> {
  let received = ''
  const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data(_s, data) { received += new TextDecoder().decode(data) } } })
  socket.write(startupPacket())
  await Bun.sleep(200)
  for (const m of messages) {
    socket.write(m)
    await Bun.sleep(200)
  }
  socket.end()
  return received
}

const frontend = (type: string, text: string): Uint8Array => {
  const body = new TextEncoder().encode(text)
  const out = new Uint8Array(5 + body.length)
  out[0] = type.charCodeAt(0)
  new DataView(out.buffer).setInt32(1, 4 + body.length)
  out.set(body, 5)
  return out
}

test('a client\'s COPY FROM STDIN is refused with an error, and a message of no known type is dropped: the database serves on (PGlite spun for good on both)', async () => {
  const sql = postgres(db.url, { max: 1, onnotice: () => {} })
  try {
    await sql`create table if not exists copy_target (a int)`
    const port = db.port as number
    const copy = await rawSession(port, [frontend('Q', 'copy copy_target from stdin\0'), frontend('d', '1\n'), frontend('c', '')])
    expect(copy).toContain('COPY FROM STDIN is not supported on the embedded database port')
    await rawSession(port, [new Uint8Array([0x79, 0, 0, 0, 4])])
    expect([...await sql`select count(*)::int as n from copy_target`]).toEqual([{ n: 0 }])
    expect([...await sql`select 1 as one`]).toEqual([{ one: 1 }])
  } finally {
    await sql.end({ timeout: 1 })
  }
}, 20_000)

/** Waits until no prepared statement named like `pattern` is left in PGlite's one session. */
async function statementsGone(pattern: string, what: string): Promise<void> {
  const sql = postgres(db.url, { max: 1, onnotice: () => {}, prepare: false })
  try {
    await eventually(async () => Number((await sql`select count(*)::int as n from pg_prepared_statements where name like ${pattern}`)[0]?.n) === 0, 5000, what)
  } finally {
    await sql.end({ timeout: 1 })
  }
}

// PGlite is one session for every connection: JDBC, pgx, psycopg and asyncpg name their
// statements alike in each connection (S_1, ...), and one connection's met another's, live
// or gone, as "already exists"; postgres.js names its own at random, and left ~45 KiB each.
test('a named statement is its connection\'s own: two clients and a third after them each prepare S_1, and none is left once they disconnect', async () => {
  const port = db.port as number
  const session = () => rawSession(port, [
    frontend('P', 'S_1\0select 40 + 2 as answer\0\0\0'),
    frontend('B', '\0S_1\0\0\0\0\0\0\0'),
    frontend('E', '\0\0\0\0\0'),
    frontend('S', ''),
  ])
  const answers = [...await Promise.all([session(), session()]), await session()]
  for (const answer of answers) {
    expect(answer).not.toContain('already exists')
    expect(answer).toContain('SELECT 1')
    expect(answer).toContain('42')
  }
  await statementsGone('%S\\_1', 'the statements of the closed connections to go')
}, 20_000)

// A gone client's statements are deallocated by a query of their own in the session: run
// between another client's Bind and Execute, it ended that client's implicit transaction and
// its unnamed portal with it ('portal "" does not exist'), e.g. the writer's, at any disconnect.
test('a client disconnecting does not break another\'s extended-protocol sequence in progress: its statements are deallocated between sequences', async () => {
  const port = db.port as number
  const connect = async () => {
    const state = { received: '' }
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data(_s, data) { state.received += new TextDecoder().decode(data) } } })
    socket.write(startupPacket())
    await Bun.sleep(200)
    return { socket, state }
  }
  const gone = await connect()
  gone.socket.write(frontend('P', 'S_gone\0select 1\0\0\0'))
  gone.socket.write(frontend('S', ''))
  await Bun.sleep(200)
  const busy = await connect()
  busy.socket.write(frontend('P', '\0select 40 + 2 as answer\0\0\0'))
  busy.socket.write(frontend('B', '\0\0\0\0\0\0\0\0'))
  busy.socket.write(frontend('H', ''))
  await Bun.sleep(200)
  gone.socket.end()
  await Bun.sleep(200)
  busy.socket.write(frontend('E', '\0\0\0\0\0'))
  busy.socket.write(frontend('S', ''))
  await Bun.sleep(300)
  busy.socket.end()
  expect(busy.state.received).not.toContain('does not exist')
  expect(busy.state.received).toContain('42')
  await statementsGone('%S\\_gone', 'the statement of the closed connection to go')
}, 20_000)

test('a SET by one client does not carry over to another: text from the writer is not read as LATIN1 because psql asked for it', async () => {
  const writer = postgres(db.url, { max: 1, onnotice: () => {} })
  const user = postgres(db.url, { max: 1, onnotice: () => {} })
  try {
    await writer`create table if not exists encoded (t text)`
    await user.unsafe(`set client_encoding = 'LATIN1'`)
    await user.unsafe(`set default_transaction_read_only = on`)
    await writer`insert into encoded values (${'café ☕'})`
    expect([...await writer`select t, octet_length(t) as bytes from encoded`]).toEqual([{ t: 'café ☕', bytes: 9 }])
  } finally {
    await writer.end({ timeout: 1 })
    await user.end({ timeout: 1 })
  }
}, 20_000)

/** `select 1` over the Unix socket `file`. */
async function selectOneVia(file: string): Promise<unknown[]> {
  const sql = postgres({ path: file, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    return [...await sql`select 1 as one`]
  } finally {
    await sql.end({ timeout: 1 })
  }
}

/** Listening TCP sockets (IPv4 and IPv6) of this process, from /proc. */
function listeningTcp(): number {
  const mine = new Set(fs.readdirSync('/proc/self/fd').map((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`) } catch { return '' } }).filter((l) => l.startsWith('socket:[')).map((l) => l.slice(8, -1)))
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').slice(1) : []))
  return rows.map((r) => r.trim().split(/\s+/)).filter((c) => c[3] === '0A' && mine.has(c[9] ?? '')).length
}

test('PGlite\'s files, 0666 whatever the umask, are in a DATA_DIR and a DATA_DIR/pglite that only their owner can enter', async () => {
  const own = tempDir('embedded-private')
  const dataDir = path.join(own, 'data')
  const before = process.umask(0o022)
  let files: EmbeddedDatabase
  try {
    files = await startEmbedded({ dataDir })
  } finally {
    process.umask(before)
  }
  try {
    expect([dataDir, path.join(dataDir, 'pglite')].map((d) => (fs.statSync(d).mode & 0o777).toString(8))).toEqual(['700', '700'])
  } finally {
    await files.stop()
  }
  fs.rmSync(own, { recursive: true, force: true })
}, 60_000)

test('without a port it listens on no TCP port: a Unix socket in DATA_DIR/socket that only its owner can open, removed at stop', async () => {
  const own = tempDir('embedded-socket')
  const before = listeningTcp()
  const socketDb = await startEmbedded({ dataDir: own })
  try {
    expect([socketDb.port, socketDb.socketPath]).toEqual([null, `${own}/socket/.s.PGSQL.5432`])
    const file = socketDb.socketPath as string
    expect(fs.statSync(file).isSocket()).toBe(true)
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600')
    expect((fs.statSync(`${own}/socket`).mode & 0o777).toString(8)).toBe('700')
    expect(listeningTcp()).toBe(before)
    expect(await selectOneVia(file)).toEqual([{ one: 1 }])
  } finally {
    await socketDb.stop()
  }
  expect(fs.existsSync(`${own}/socket/.s.PGSQL.5432`)).toBe(false)
  fs.rmSync(own, { recursive: true, force: true })
}, 60_000)

test('a DATA_DIR too long for a Unix socket path (107 bytes) gets a private directory under the temporary one, removed at stop', async () => {
  const own = tempDir('embedded-long')
  // Short in characters, too long in bytes (sun_path counts bytes): 'é' is two.
  const deep = `${own}/${'é'.repeat(45)}`
  const socketDb = await startEmbedded({ dataDir: deep })
  const file = socketDb.socketPath as string
  try {
    expect(file).toStartWith(path.join(os.tmpdir(), 'pdc-pg-'))
    expect(Buffer.byteLength(path.join(deep, 'socket', '.s.PGSQL.5432'))).toBeGreaterThan(107)
    expect(Buffer.byteLength(file)).toBeLessThanOrEqual(107)
    expect((fs.statSync(path.dirname(file)).mode & 0o777).toString(8)).toBe('700')
    expect(await selectOneVia(file)).toEqual([{ one: 1 }])
  } finally {
    await socketDb.stop()
  }
  expect(fs.existsSync(path.dirname(file))).toBe(false)
  fs.rmSync(own, { recursive: true, force: true })
}, 60_000)

test('a DATA_DIR/socket that is a symlink or no directory is refused before the database opens, and the DATA_DIR is free again', async () => {
  const own = tempDir('embedded-socket-trap')
  const elsewhere = tempDir('embedded-socket-target')
  fs.chmodSync(elsewhere, 0o755)
  fs.symlinkSync(elsewhere, path.join(own, 'socket'))
  await expect(startEmbedded({ dataDir: own })).rejects.toThrow(`cannot make the embedded database's socket: ${own}/socket exists and is not a directory of this user's`)
  // Its target untouched (not chmodded through the link).
  expect((fs.statSync(elsewhere).mode & 0o777).toString(8)).toBe('755')
  fs.rmSync(path.join(own, 'socket'))
  fs.writeFileSync(path.join(own, 'socket'), 'not a directory')
  await expect(startEmbedded({ dataDir: own })).rejects.toThrow('exists and is not a directory')
  // Nothing held: with the file gone it starts.
  fs.rmSync(path.join(own, 'socket'))
  const db2 = await startEmbedded({ dataDir: own })
  await db2.stop()
  for (const d of [own, elsewhere]) fs.rmSync(d, { recursive: true, force: true })
}, 60_000)

// PGlite's own error says only `Aborted()` or "PGlite failed to initialize properly": the
// operator of a damaged directory (or a full disk, where opening needs a new WAL segment of
// 16 MiB) could not tell which, nor which file.
test('a damaged embedded database stops the start with what PostgreSQL said about it, not only PGlite\'s Aborted()', async () => {
  const damaged = tempDir('embedded-damaged')
  const first = await startEmbedded({ dataDir: damaged })
  await first.stop()
  fs.truncateSync(path.join(damaged, 'pglite', 'global', 'pg_control'), 100)
  const proc = Bun.spawn([process.execPath, path.join(import.meta.dir, '../../src/main.ts'), 'serve'], { env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: damaged }, stdout: 'ignore', stderr: 'pipe' })
  expect(await proc.exited).toBe(1)
  const failed = JSON.parse((await new Response(proc.stderr).text()).trim().split('\n').pop() as string) as { msg: string; error: string; code: string }
  expect(failed).toMatchObject({ msg: 'collector failed', code: 'EMBEDDED_DATABASE_FAILED' })
  expect(failed.error).toContain(`cannot open the embedded database in ${damaged}/pglite: `)
  expect(failed.error).toContain('could not read file "global/pg_control": read 100 of 296')
  fs.rmSync(damaged, { recursive: true, force: true })
}, 60_000)

// Over the limit the package closed the socket at once (psql: "server closed the connection
// unexpectedly ... terminated abnormally"), or wrote "Too many connections" as raw text.
test('a 17th connection is refused as PostgreSQL refuses one, FATAL 53300 "too many clients", and the 16 serve on', async () => {
  const clients = Array.from({ length: 16 }, () => postgres({ host: '127.0.0.1', port: db.port as number, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} }))
  const extra = postgres({ host: '127.0.0.1', port: db.port as number, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    for (const sql of clients) expect([...await sql`select 1 as one`]).toEqual([{ one: 1 }])
    const refused = await extra`select 1`.then(() => null, (error: unknown) => error as { code?: string; message?: string })
    expect(refused).toMatchObject({ code: '53300', message: 'sorry, too many clients already: the embedded database serves 16 connections, the collector\'s included' })
    for (const sql of clients) expect([...await sql`select 2 as two`]).toEqual([{ two: 2 }])
  } finally {
    await Promise.all([...clients, extra].map((sql) => sql.end({ timeout: 1 })))
  }
}, 60_000)

// Only PGlite's own PANIC ends the collector: PostgreSQL's log quotes a client's values and
// statements (an ERROR's message, a WARNING a client raised, a statement's later lines), and
// a psql user's `select 'PANIC:  x'::int` once exited the collector with status 1.
test('a client\'s query, error or warning that quotes "PANIC:" is not taken for a PANIC of PGlite', async () => {
  const own = tempDir('embedded-panic-quoted')
  const panics: string[] = []
  const quoting = await startEmbedded({ dataDir: own, port: 0, onPanic: (reason) => panics.push(reason) })
  const sql = postgres(quoting.url, { max: 1, onnotice: () => {} })
  try {
    for (const query of [
      `select 'PANIC:  could not write to file'::int`,
      `do $$ begin raise warning 'PANIC:  w'; end $$`,
      `do $$ begin raise exception 'PANIC:  e'; end $$`,
      `select no_such_column\nPANIC:  on a line of its own`,
    ]) {
      await sql.unsafe(query).catch(() => {})
    }
    expect([...(await sql`select 1 as one`)]).toEqual([{ one: 1 }])
    expect(panics).toEqual([])
  } finally {
    await sql.end()
    await quoting.stop()
    fs.rmSync(own, { recursive: true, force: true })
  }
}, 60_000)

test('the database thread ending without an error (process.exit in it) fails the start, or stops the collector once started', async () => {
  const workerEntry = new URL('../fixtures/workers/exits.ts', import.meta.url).href
  const before = tempDir('embedded-exit-EXIT_BEFORE_START')
  await expect(startEmbedded({ dataDir: before, port: 0, workerEntry })).rejects.toThrow(/cannot open the embedded database in .*: the embedded database's thread exited \(code 7\)/)
  const after = tempDir('embedded-exit-after')
  let stopped = null as string | null
  const started = await startEmbedded({ dataDir: after, port: 0, workerEntry, onPanic: (reason) => { stopped = reason } })
  await eventually(() => stopped !== null, 5000, 'the thread\'s exit to be reported')
  expect(stopped).toBe("the embedded database's thread exited (code 9)")
  await started.stop()
  for (const d of [before, after]) fs.rmSync(d, { recursive: true, force: true })
})

/** What another process gets locking `dir`: `taken`, or the error's code. */
const lockIn = (dir: string) => Bun.spawnSync([process.execPath, '-e', `import { lockDataDir } from ${JSON.stringify(path.join(import.meta.dir, '../../src/data-dir-lock.ts'))}; try { lockDataDir(${JSON.stringify(dir)}); console.log('taken') } catch (e) { console.log(e.code) }`]).stdout.toString().trim()

test('an open given up (a stop while it opens) rejects at once with the reason given, ends the thread, and frees the DATA_DIR', async () => {
  const workerEntry = new URL('../fixtures/workers/never-opens.ts', import.meta.url).href
  const own = tempDir('embedded-given-up')
  const giveUp = new AbortController()
  const opening = startEmbedded({ dataDir: own, port: 0, workerEntry, signal: giveUp.signal })
  await Bun.sleep(300)
  const asked = performance.now()
  giveUp.abort(new Error('stopping'))
  const outcome = await Promise.race([opening.then(() => 'opened', (error: Error) => error.message), Bun.sleep(2000).then(() => 'still opening')])
  expect(outcome).toBe('stopping')
  expect(performance.now() - asked).toBeLessThan(100)
  // Another process may take the DATA_DIR once the thread has ended.
  await eventually(() => lockIn(own) === 'taken', 5000, 'the DATA_DIR to be free')
  fs.rmSync(own, { recursive: true, force: true })
})

test('restart: the thread is ended (its clients\' connections closed), the database opened again on the same socket, and what was committed is there', async () => {
  const own = tempDir('embedded-restart')
  const restarted = await startEmbedded({ dataDir: own })
  const client = () => postgres({ path: restarted.socketPath as string, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  const holder = client()
  const reader = client()
  try {
    await reader`create table kept (x int)`
    await reader`insert into kept values (1)`
    const held = holder`select pg_sleep(600)`.then(() => 'answered', (error: { code?: string }) => error.code)
    await Bun.sleep(300)
    await restarted.restart()
    expect(await held).toBe('CONNECTION_CLOSED')
    expect([...(await reader`select x from kept`)]).toEqual([{ x: 1 }])
  } finally {
    await holder.end({ timeout: 1 })
    await reader.end({ timeout: 1 })
    await restarted.stop()
    fs.rmSync(own, { recursive: true, force: true })
  }
}, 60_000)

test('a stop during a restart gives its open up at once and frees the DATA_DIR', async () => {
  const workerEntry = new URL('../fixtures/workers/opens-once.ts', import.meta.url).href
  const own = tempDir('embedded-restart-stopped')
  const db = await startEmbedded({ dataDir: own, port: 0, workerEntry })
  const restarting = db.restart().then(() => 'restarted', (error: Error) => error.message)
  await Bun.sleep(300)
  await Promise.race([db.stop(), Bun.sleep(5000).then(() => { throw new Error('the stop waited for the restart') })])
  expect(await restarting).toBe('stopped while the embedded database was being restarted')
  await eventually(() => lockIn(own) === 'taken', 5000, 'the DATA_DIR to be free')
  fs.rmSync(own, { recursive: true, force: true })
})

/** This process's open files in `dir` (Linux: /proc/self/fd). */
const openFilesIn = (dir: string): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)
  } catch {
    return false // the directory's own descriptor, closed since it was listed
  }
}).length

// A thread terminated keeps nothing of its own but its file descriptors, which are the
// process's: every restart left PGlite's ~45 open files (tables, WAL segments) open for good,
// 1035 descriptors after 20 restarts, so a recurring stall ran the collector out of them.
test.skipIf(process.platform !== 'linux')('a restart leaves none of the ended thread\'s files open', async () => {
  const own = tempDir('embedded-restart-files')
  const restarted = await startEmbedded({ dataDir: own })
  const client = postgres({ path: restarted.socketPath as string, user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
  try {
    const use = async () => { await client`create table if not exists kept (x int)`; await client`insert into kept values (1)` }
    await use()
    const opened = openFilesIn(restarted.dataDir)
    expect(opened).toBeGreaterThan(0)
    for (let i = 0; i < 3; i++) {
      await restarted.restart()
      await use()
    }
    expect(openFilesIn(restarted.dataDir)).toBeLessThanOrEqual(opened + 5)
    expect([...(await client`select count(*)::int as n from kept`)]).toEqual([{ n: 4 }])
  } finally {
    await client.end({ timeout: 1 })
    await restarted.stop()
    fs.rmSync(own, { recursive: true, force: true })
  }
}, 60_000)
