/**
 * What /ready and /metrics say while the embedded database restarts (src/app.ts,
 * restartEmbedded): the database down, with the restart as the reason, until it is open again.
 * A restart takes a second or two, too short to look at by chance; so strace, attached to the
 * running collector once its first open is done, holds the reopen's read of PG_VERSION for
 * HOLD_SECONDS, as a slow disk would. Everything is looked at while the hold certainly lasts:
 * the log has not said `embedded database restarted` yet when the answers are in.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import postgres from 'postgres'
import { eventually, spawnCollector } from '../helpers/collector.ts'
import { tempDir } from '../helpers/database.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'

const strace = Bun.which('strace')
const dataDir = tempDir('embedded-restart-ready')
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

const HOLD_SECONDS = 15

interface Ready { status: string; database: { state: string; last_error: string | null } }

test.skipIf(!strace)('while the embedded database restarts, /ready says the database is down because it is being restarted and collector_database_up is 0; up again after', async () => {
  const collector = await spawnCollector({ DATA_DIR: dataDir, EMBEDDED_STALL_RESTART_MS: '60000' })
  const pid = Number(fs.readFileSync(path.join(dataDir, 'collector.lock'), 'utf8').trim())
  const look = async () => {
    const ready = await fetch(`${collector.url}/ready`)
    const metrics = parsePrometheusText(await (await fetch(`${collector.url}/metrics`)).text())
    return { status: ready.status, body: await ready.json() as Ready, up: sampleValue(metrics, 'collector_database_up') }
  }
  let tracer: ReturnType<typeof Bun.spawn> | null = null
  try {
    await eventually(async () => (await look()).up === 1, 60_000, 'the database up')
    // Every thread of the collector, and those it starts (-f): the reopen's is a new one.
    const held = path.join(dataDir, 'pglite', 'PG_VERSION')
    tracer = Bun.spawn([strace as string, '-f', '-qq', '-o', '/dev/null', '-p', String(pid), '-P', held, '-e', 'trace=openat', '-e', `inject=openat:delay_exit=${HOLD_SECONDS * 1_000_000}`], { stdout: 'ignore', stderr: 'ignore' })
    const traced = () => fs.readdirSync(`/proc/${pid}/task`).every((task) => !/^TracerPid:\s+0$/m.test(fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8')))
    await eventually(traced, 30_000, 'strace attached to every thread')

    // A wedging statement from a socket client: restarted at once (PGlite says it is wedged).
    const client = postgres({ path: path.join(dataDir, 'socket', '.s.PGSQL.5432'), user: 'postgres', database: 'postgres', max: 1, onnotice: () => {} })
    void client.unsafe("select convert_to('x', 'WIN1252')").simple().catch(() => {})
    await eventually(() => collector.output().includes('"msg":"the embedded database answered a statement without finishing its answer'), 60_000, 'the restart')
    const during = await look()
    expect(collector.output()).not.toContain('"msg":"embedded database restarted"') // the hold lasts: this was during the restart
    await client.end({ timeout: 0 }).catch(() => {})
    // Webhooks are still taken (the spool is writable): /ready is 200, the database down in it.
    expect(during).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ready', database: expect.objectContaining({ state: 'down', last_error: 'the embedded database is being restarted: a statement sent to it got no complete answer (PGlite wedged)' }) }),
      up: 0,
    })

    await eventually(() => collector.output().includes('"msg":"embedded database restarted"'), HOLD_SECONDS * 1000 + 60_000, 'the restart to end')
    await eventually(async () => (await look()).up === 1, 60_000, 'the database up again')
    const after = await look()
    expect([after.status, after.body.database.state, after.body.database.last_error?.includes('being restarted') ?? false]).toEqual([200, 'up', false])
  } finally {
    tracer?.kill('SIGTERM')
    await tracer?.exited
    collector.proc.kill('SIGTERM')
    expect(await collector.proc.exited).toBe(0)
  }
}, 240_000)
