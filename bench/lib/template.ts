/** The request body every load generator sends: the v1 trigger fixture, message ids to fill in. */
import fs from 'node:fs'
import path from 'node:path'

const FIXTURE = path.join(import.meta.dir, '..', '..', 'test', 'fixtures', 'pagerduty', 'v1', 'incident.trigger__pagerduty-developer-docs.json')

/**
 * Writes a v1 webhook of `n` copies of the fixture's message into `dir` and returns its path.
 * Message ids are `@@ID@@-0` ... : wrk's post.lua and bench/paced.ts replace `@@ID@@` per request.
 */
export function writeTemplate(dir: string, n: number): string {
  const message = (JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { messages: Record<string, unknown>[] }).messages[0] as Record<string, unknown>
  const file = path.join(dir, `webhook-${n}.json`)
  fs.writeFileSync(file, JSON.stringify({ messages: Array.from({ length: n }, (_, i) => ({ ...message, id: `@@ID@@-${i}` })) }))
  return file
}
