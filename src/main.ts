/**
 * The entry: `bun src/main.ts ...` and the compiled `dist/collector ...`. It reads argv and
 * the environment and holds the stop signals before anything else, then loads the program
 * (src/cli.ts), which takes them over: a `systemctl stop` or a restart loop's signal that
 * comes while it loads (0.1-0.2 s) is a clean stop, not a death by the signal. Only one
 * that comes before the runtime runs this first statement (the first ~30-50 ms after exec)
 * still meets the default action; nothing of the collector's has run by then.
 */
import { holdStopSignals } from './stop-signals.ts'
import { errorMessage } from './errors.ts'

if (import.meta.main) {
  const stops = holdStopSignals()
  import('./cli.ts').then(({ main }) => main(process.argv.slice(2), process.env, stops)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'collector failed', error: errorMessage(error), code: (error as { code?: string }).code })}\n`)
      process.exit(1)
    },
  )
}
