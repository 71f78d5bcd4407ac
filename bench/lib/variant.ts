/**
 * A collector variant as the A/B scripts (bench/cost.ts, bench/accept-alone.ts) take it on the
 * command line: `-` for the collector as is, else comma-separated ENV=value pairs given to its
 * environment; `BIN=path` runs that binary instead (two builds compared in one run).
 */
export interface Variant { label: string; env: Record<string, string>; command: string[] | null }

export function parseVariant(text: string): Variant {
  const env: Record<string, string> = {}
  let command: string[] | null = null
  if (text !== '-') {
    for (const pair of text.split(',')) {
      const at = pair.indexOf('=')
      if (at <= 0) throw new Error(`variant "${text}": expected ENV=value pairs separated by commas, or -`)
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)]
      if (name === 'BIN') command = [value]
      else env[name] = value
    }
  }
  return { label: text === '-' ? 'collector' : text, env, command }
}
