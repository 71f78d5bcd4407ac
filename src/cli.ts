/**
 * The CLI: what src/main.ts loads once it holds the stop signals. It checks the configuration
 * and the machine, runs the command, and takes the signals over from the entry. `bun
 * src/main.ts ...` and the compiled `dist/collector ...` are the same program.
 * Exit codes: 0 done, 1 runtime failure, 2 bad configuration.
 */
import dns from 'node:dns'
import fs from 'node:fs'
import path from 'node:path'
import { isIP } from 'node:net'
import { helpText, loadConfig, type Command, type Config, type ConfigIssue } from './config.ts'
import { endCommandOnPanic, startCollector, openDatabase } from './app.ts'
import { migrate, printableDdl } from './db/migrate.ts'
import { databaseTls } from './db/tls.ts'
import { createLog } from './log.ts'
import { errorMessage } from './errors.ts'
import { spoolStatus, replayFile } from './cli/spool-commands.ts'
import { retryBadRows } from './cli/bad-rows-retry.ts'
import { PRIVATE_DIR_MODE } from './data-dir-lock.ts'
import { foreignOwner, giveBack } from './data-dir-owner.ts'
import { VERSION, VERSION_TEXT } from './version.ts'
import { SIGNAL_STATUS, type StopSignal, type StopSignals } from './stop-signals.ts'

/**
 * postgres.js 3.4.x can throw from a `setImmediate` after a server-side close (a database
 * crash or restart): `nextWrite` writes to a socket its `closed()` already set to null
 * (porsager/postgres#1066, #1154, #1208; fixes in #1168/#1176/#1209, unreleased). Thrown
 * there, it escapes every await and kills the process; our chaos run hit it within seconds
 * of a `pg_ctl stop -m immediate`. The query it belonged to is rejected with
 * CONNECTION_CLOSED and retried by the writer, so this one error is logged and survived;
 * any other uncaught exception still ends the process (status 1).
 */
export function isPostgresNullSocketWrite(error: unknown): boolean {
  const stack = error instanceof TypeError ? error.stack ?? '' : ''
  // By message and function name, not file: in the compiled binary the module path is the
  // executable's (the build keeps identifiers unminified for exactly this).
  return /socket\.write|reading 'write'/.test(error instanceof Error ? error.message : '') && /nextWrite/.test(stack)
}

/**
 * A postgres.js connection error (its codes, or a socket's). A query postgres.js runs on its
 * own and nobody awaits, failing when the writer closes a pool (a write timeout), must not
 * end the process: whatever a write was waiting for failed to that write, which retries.
 */
export function isDatabaseConnectionError(reason: unknown): boolean {
  const code = (reason as { code?: unknown } | null)?.code
  // 57P01-57P03: the server shutting down or not yet taking connections (a failover), as
  // postgres.js's own unawaited queries on a new connection can meet them.
  return typeof code === 'string' && /^(CONNECTION_(DESTROYED|CLOSED|ENDED)|CONNECT_TIMEOUT|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|57P0[123])$/.test(code)
}

/**
 * DATA_DIR as a directory the collector can write in (created when missing), or why not.
 * `create: false` (the run is refused anyway) creates nothing: a missing directory is fine
 * when the nearest one above it that exists can be written in.
 */
function dataDirProblem(dir: string, create = true): string | null {
  const errno = (error: unknown) => (error as NodeJS.ErrnoException).code ?? errorMessage(error)
  // lstat: a symlink that leads nowhere is there, and is not a directory.
  const there = (p: string) => { try { fs.lstatSync(p); return true } catch { return false } }
  if (!there(dir)) {
    if (!create) {
      let above = path.dirname(path.resolve(dir))
      while (!there(above) && above !== path.dirname(above)) above = path.dirname(above)
      try {
        if (!fs.statSync(above).isDirectory()) return `${dir} is not a directory`
        fs.accessSync(above, fs.constants.W_OK)
        return null
      } catch (error) {
        return `cannot create ${dir} (${errno(error)})`
      }
    }
    try {
      fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return code === 'EEXIST' || code === 'ENOTDIR' ? `${dir} is not a directory` : `cannot create ${dir} (${errno(error)})`
    }
  }
  try {
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`
  } catch {
    return `${dir} is not a directory`
  }
  // A file made and removed, not access(2): a root collector passes that on a directory it
  // still cannot create files in (/sys, a read-only bind mount), and the spool directory of
  // an earlier run may belong to another user. Either would end in exit 1 and a restart loop.
  for (const d of [dir, path.join(dir, 'spool')]) {
    if (d !== dir && !there(d)) continue
    const probe = path.join(d, `.write-test-${process.pid}`)
    try {
      fs.writeFileSync(probe, '')
      fs.rmSync(probe, { force: true })
    } catch (error) {
      return `cannot write in ${d} (${errno(error)})`
    }
  }
  return null
}

/** A certificate file DATABASE_URL names (sslrootcert, sslcert, sslkey, sslcrl) that cannot be read or used. */
function tlsFileProblem(url: string, dialect: Config['dialect']): string | null {
  try {
    databaseTls(url, dialect)
    return null
  } catch (error) {
    return errorMessage(error).replace(/^DATABASE_URL:? /, '')
  }
}

/**
 * A HOST that names no address at all is a configuration error (exit 2: systemd does not
 * restart it); one that cannot be resolved right now (no DNS yet at boot) is not, and the
 * listen failure that follows exits 1 and is retried.
 */
async function hostProblem(host: string): Promise<string | null> {
  if (isIP(host) !== 0) return null
  try {
    await dns.promises.lookup(host)
    return null
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOTFOUND' ? `cannot resolve ${JSON.stringify(host)} to an address to listen on` : null
  }
}

/**
 * What only the machine can tell about the settings the command uses: DATA_DIR, HOST and the
 * certificate files DATABASE_URL names. Checked also when other settings were refused (not
 * the ones refused themselves), so that one run reports every problem.
 */
async function machineProblems(parsed: { command: Command | null; config: Config; refused: ReadonlySet<keyof Config>; source(key: keyof Config): string }, willRun: boolean): Promise<ConfigIssue[]> {
  const { command, config, refused, source } = parsed
  if (!command) return []
  const found = new Map<keyof Config, string>()
  const check = (key: keyof Config, problem: string | null) => { if (problem !== null) found.set(key, problem) }
  if (command.name === 'serve' && !refused.has('host')) check('host', await hostProblem(config.host))
  if (config.databaseUrl !== undefined && !refused.has('databaseUrl') && !refused.has('dialect') && !(command.name === 'migrate' && command.print)) check('databaseUrl', tlsFileProblem(config.databaseUrl, config.dialect))
  // Last, and created only if the run goes ahead: a refused run leaves nothing behind.
  const usesDataDir = command.name === 'serve' || command.name === 'spool-replay' || command.name === 'bad-rows-retry' || (command.name === 'migrate' && !command.print && config.databaseUrl === undefined && !refused.has('databaseUrl'))
  if (usesDataDir && !refused.has('dataDir')) check('dataDir', dataDirProblem(config.dataDir, willRun && found.size === 0))
  const order: (keyof Config)[] = ['dataDir', 'host', 'databaseUrl']
  return order.filter((key) => found.has(key)).map((key) => ({ option: source(key), message: found.get(key) as string }))
}

/**
 * What `serve` exits with after a clean stop: 0, and 129 (128 + SIGHUP, as a shell reports a
 * death by it) after SIGHUP, a failure to systemd, so it restarts the unit.
 */
function stoppedStatus(signal: StopSignal): number {
  return signal === 'SIGHUP' ? SIGNAL_STATUS.SIGHUP : 0
}

async function serve(config: Config, stops: StopSignals): Promise<number> {
  const log = createLog(config.logLevel)
  // A signal while the program loaded or checked its settings (held, see main): nothing is
  // open yet, nothing was acknowledged (the port never opened), so the stop is done.
  if (stops.first) {
    log('info', 'stopped during the start, before it opened the spool or the port: nothing was acknowledged', { signal: stops.first })
    return stoppedStatus(stops.first)
  }
  process.on('uncaughtException', (error) => {
    if (isPostgresNullSocketWrite(error)) {
      log('warn', 'database connection closed mid-write (postgres.js nextWrite on a closed socket): retried', { error: errorMessage(error) })
      return
    }
    log('error', 'uncaught exception', { error: errorMessage(error), stack: (error as Error)?.stack })
    process.exit(1)
  })
  process.on('unhandledRejection', (reason) => {
    if (isDatabaseConnectionError(reason)) {
      log('warn', 'database connection error that no write waited for: ignored', { error: errorMessage(reason), code: (reason as { code?: unknown }).code })
      return
    }
    log('error', 'unhandled rejection', { error: errorMessage(reason), stack: (reason as Error)?.stack })
    process.exit(1)
  })
  // From here a signal that arrives while the collector starts (PGlite takes a second or two)
  // stops it without waiting for the embedded database to open (see StartOptions), and the
  // exit is still 0. A second one, if that stop hangs (a request in
  // flight that does not finish), ends it at once.
  let signalled: StopSignal | null = null
  let stopRequested: () => void = () => {}
  const stopRequest = new Promise<void>((resolve) => { stopRequested = resolve })
  let onSignal: (signal: StopSignal) => void = (signal) => {
    if (signalled) {
      log('warn', 'second signal while starting: exiting without a clean stop', { signal })
      process.exit(1)
    }
    signalled = signal
    stopRequested()
  }
  // SIGHUP, the terminal it ran from closed, or a `kill -HUP` meant as a reload (a
  // log-rotation script, say): a clean stop, then exit 129 (128 + SIGHUP), which the unit's
  // Restart=on-failure restarts, reading the configuration again. Exit 0 left it down.
  stops.handTo((signal) => onSignal(signal))
  const collector = await startCollector(config, log, { stopRequested: stopRequest })
  return await new Promise<number>((resolve) => {
    let stopping = false
    onSignal = (signal: StopSignal) => {
      if (stopping) return
      stopping = true
      log('info', 'signal received', { signal })
      collector.stop().then(() => resolve(stoppedStatus(signal)), (error) => {
        log('error', 'shutdown failed', { error: errorMessage(error) })
        resolve(1)
      })
    }
    if (signalled) onSignal(signalled)
  })
}

async function runMigrate(config: Config, print: boolean): Promise<number> {
  if (print) {
    process.stdout.write(printableDdl(config.dialect, config.dbSchema))
    return 0
  }
  const log = createLog(config.logLevel)
  const database = await openDatabase(config, endCommandOnPanic(log, config, 'migrate stops here; run it again once the database is reachable'))
  try {
    for (const warning of await migrate(database.sql, config.dialect, config.dbSchema)) log('warn', warning)
    log('info', 'tables ready', { schema: config.dbSchema, database: database.describe })
    return 0
  } finally {
    await database.sql.end({ timeout: 5 })
    await database.embedded?.stop()
  }
}

/**
 * Runs the command `argv` names with the settings in `env`; `stops` are the stop signals the
 * entry has held since its first statement. Resolves to the exit status.
 */
export async function main(argv: readonly string[], env: Record<string, string | undefined>, stops: StopSignals): Promise<number> {
  const loaded = loadConfig(env, argv)
  const problems = [...(loaded.ok ? [] : loaded.issues), ...(await machineProblems(loaded.ok ? { ...loaded, refused: new Set() } : loaded.partial, loaded.ok))]
  if (problems.length > 0 || !loaded.ok) {
    for (const p of problems) process.stderr.write(`collector: ${p.option}: ${p.message}\n`)
    return 2
  }
  const { command, config } = loaded
  // One turn of the event loop: a signal caught while the program loaded or checked the
  // settings (all of it can be synchronous) reaches the holder only then. From here to the
  // moment `serve` opens its port there is no other turn, so one held by then never opens it.
  await new Promise((resolve) => setImmediate(resolve))
  // A signal ends a one-off command at once (one held since the start too), through
  // process.exit with the status a death by it has, so that its 'exit' handlers run
  // (src/cli/private-load.ts removes its spool); `serve` takes its own.
  if (command.name !== 'serve') stops.handTo((signal) => process.exit(SIGNAL_STATUS[signal]))
  const owner = command.name === 'help' || command.name === 'version' ? null : foreignOwner(config.dataDir)
  if (!owner) return await run(command, config, stops)
  // Whatever way the process ends: returning here, a signal (Ctrl-C in a long replay ends it
  // at once; `serve` handles its own and returns), or a process.exit() on the way (`serve`
  // after an uncaught error, or a second signal while it starts). Not after SIGKILL.
  let given = false
  const giveBackOnce = () => {
    if (given) return
    given = true
    fs.writeSync(2, giveBack(config.dataDir, owner)
      ? `collector: gave what root owns in ${config.dataDir} back to its owner (uid ${owner.uid}), so the service can still open it\n`
      : `collector: could not give what root owns in ${config.dataDir} back to uid ${owner.uid}: run chown -R -P --from=0 ${owner.uid}:${owner.gid} ${config.dataDir} before starting the service\n`)
  }
  process.once('exit', giveBackOnce)
  try {
    return await run(command, config, stops)
  } finally {
    giveBackOnce()
    process.off('exit', giveBackOnce)
  }
}

function run(command: Command, config: Config, stops: StopSignals): Promise<number> | number {
  switch (command.name) {
    case 'help':
      process.stdout.write(`${helpText(VERSION)}\n`)
      return 0
    case 'version':
      process.stdout.write(`${VERSION_TEXT}\n`)
      return 0
    case 'migrate':
      return runMigrate(config, command.print)
    case 'spool-status':
      return spoolStatus(config)
    case 'spool-replay':
      return replayFile(config, command.file, command.query)
    case 'bad-rows-retry':
      return retryBadRows(config, command.reasons, command.query)
    case 'serve':
      return serve(config, stops)
  }
}
