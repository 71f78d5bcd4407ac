/**
 * Load for the crash, outage and chaos runs: clients posting unique v1 messages (built from a
 * real fixture) and remembering which ones got a 2xx, and the check that every acknowledged
 * message is in atomic.com_pagerduty_incident_1 and atomic.events exactly once.
 */
import type postgres from 'postgres'
import { pagerdutyEventId } from '../../src/events/event-id.ts'
import { fixtureJson } from './fixtures.ts'

const TEMPLATE = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }

/** One v1 request of `ids.length` messages, each with its own message id. */
export function v1Body(ids: readonly string[], patch: (message: Record<string, unknown>) => void = () => {}): string {
  const messages = ids.map((id) => {
    const message = structuredClone(TEMPLATE.messages[0]) as Record<string, unknown>
    message.id = id
    patch(message)
    return message
  })
  return JSON.stringify({ messages })
}

export interface Load {
  /** Message ids whose request got a 2xx. */
  acked: Set<string>
  /** Responses by status; connection failures (a killed process) under 0. */
  statuses: Map<number, number>
  stop(): Promise<void>
}

/**
 * `clients` loops posting one unique message per request to `url()` (read per request, so a
 * restarted collector on a new port is picked up) until stopped.
 */
export function startLoad(options: { url: () => string; clients: number; prefix: string; pauseMs?: number }): Load {
  const acked = new Set<string>()
  const statuses = new Map<number, number>()
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
  let running = true
  const client = async (c: number) => {
    for (let n = 0; running; n++) {
      const id = `${options.prefix}-${c}-${n}`
      try {
        const res = await fetch(`${options.url()}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: v1Body([id]) })
        await res.arrayBuffer()
        count(res.status)
        if (res.status >= 200 && res.status < 300) acked.add(id)
      } catch {
        count(0)
        await Bun.sleep(20)
      }
      if (options.pauseMs) await Bun.sleep(options.pauseMs)
    }
  }
  const loops = Array.from({ length: options.clients }, (_, c) => client(c))
  return {
    acked,
    statuses,
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}

export interface Tally { acked: number; loaded: number; lost: number; duplicated: number }

/**
 * Counts, for the acknowledged ids, their rows in both tables. `loaded` is the acknowledged
 * messages present exactly once in both; `duplicated` counts any message id or event id of
 * this run with more than one row (acknowledged or not: a 503'd or cut-off request may load
 * once, never twice).
 */
export async function tally(sql: postgres.Sql, acked: ReadonlySet<string>, prefix: string): Promise<Tally> {
  const incidents = new Map<string, number>()
  for (const r of await sql`select id, count(*)::int as n from atomic.com_pagerduty_incident_1 where id like ${`${prefix}-%`} group by id`) incidents.set(String(r.id), Number(r.n))
  const events = new Map<string, number>()
  for (const r of await sql`select e.event_id, count(*)::int as n from atomic.events e where e.v_tracker = 'com.pagerduty-v1' group by e.event_id`) events.set(String(r.event_id), Number(r.n))
  let loaded = 0
  let lost = 0
  for (const id of acked) {
    if (incidents.get(id) === 1 && events.get(pagerdutyEventId('v1', id, null)) === 1) loaded++
    else if (!incidents.has(id) || !events.has(pagerdutyEventId('v1', id, null))) lost++
  }
  let duplicated = 0
  for (const n of incidents.values()) if (n > 1) duplicated++
  for (const n of events.values()) if (n > 1) duplicated++
  return { acked: acked.size, loaded, lost, duplicated }
}

export const formatTally = (t: Tally): string => `acked ${t.acked}, loaded ${t.loaded}, lost ${t.lost}, duplicated ${t.duplicated}`

/** Waits until every acknowledged id is loaded (tables may not exist yet: the writer migrates on first use). */
export async function untilLoaded(sql: postgres.Sql, acked: ReadonlySet<string>, prefix: string, timeoutMs = 30_000): Promise<Tally> {
  const until = Date.now() + timeoutMs
  let last: unknown = null
  for (;;) {
    try {
      const t = await tally(sql, acked, prefix)
      if (t.loaded === acked.size || Date.now() > until) return t
    } catch (error) {
      last = error
      if (Date.now() > until) throw last
    }
    await Bun.sleep(50)
  }
}
