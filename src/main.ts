/**
 * The CLI: the only place that reads process.env and argv, starts the server and handles
 * signals. `bun src/main.ts ...` and the compiled `dist/collector ...` are the same program.
 * Exit codes: 0 done, 1 runtime failure, 2 bad configuration.
 */
import { helpText, loadConfig, type Config } from './config.ts'
import { startCollector, openDatabase } from './app.ts'
import { migrate, printableDdl } from './db/migrate.ts'
import { createLog } from './log.ts'
import { errorMessage } from './errors.ts'
import { spoolStatus, replayFile } from './cli/spool-commands.ts'
import { VERSION } from './version.ts'

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

async function serve(config: Config): Promise<number> {
  const log = createLog(config.logLevel)
  process.on('uncaughtException', (error) => {
    if (isPostgresNullSocketWrite(error)) {
      log('warn', 'database connection closed mid-write (postgres.js nextWrite on a closed socket): retried', { error: errorMessage(error) })
      return
    }
    log('error', 'uncaught exception', { error: errorMessage(error), stack: (error as Error)?.stack })
    process.exit(1)
  })
  const collector = await startCollector(config, log)
  return await new Promise<number>((resolve) => {
    let stopping = false
    const onSignal = (signal: string) => {
      if (stopping) return
      stopping = true
      log('info', 'signal received', { signal })
      collector.stop().then(() => resolve(0), (error) => {
        log('error', 'shutdown failed', { error: errorMessage(error) })
        resolve(1)
      })
    }
    process.on('SIGTERM', () => onSignal('SIGTERM'))
    process.on('SIGINT', () => onSignal('SIGINT'))
  })
}

async function runMigrate(config: Config, print: boolean): Promise<number> {
  if (print) {
    process.stdout.write(printableDdl(config.dialect, config.dbSchema))
    return 0
  }
  const log = createLog(config.logLevel)
  const database = await openDatabase(config)
  try {
    for (const warning of await migrate(database.sql, config.dialect, config.dbSchema)) log('warn', warning)
    log('info', 'tables ready', { schema: config.dbSchema, database: database.describe })
    return 0
  } finally {
    await database.sql.end({ timeout: 5 })
    await database.embedded?.stop()
  }
}

export async function main(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const loaded = loadConfig(env, argv)
  if (!loaded.ok) {
    for (const issue of loaded.issues) process.stderr.write(`collector: ${issue.option}: ${issue.message}\n`)
    return 2
  }
  const { command, config } = loaded
  switch (command.name) {
    case 'help':
      process.stdout.write(`${helpText(VERSION)}\n`)
      return 0
    case 'version':
      process.stdout.write(`${VERSION}\n`)
      return 0
    case 'migrate':
      return runMigrate(config, command.print)
    case 'spool-status':
      return spoolStatus(config)
    case 'spool-replay':
      return replayFile(config, command.file, command.query)
    case 'serve':
      return serve(config)
  }
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'collector failed', error: errorMessage(error), code: (error as { code?: string }).code })}\n`)
      process.exit(1)
    },
  )
}
