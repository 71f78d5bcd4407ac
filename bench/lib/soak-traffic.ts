/**
 * The soak's traffic (bench/soak.ts): a paced mix of PagerDuty webhooks, each remembering
 * what its 2xx promises (event ids in atomic.events, markers in atomic.bad_rows), and the
 * bursts a long-running collector meets now and then: stalled clients, large bodies.
 */
import { pagerdutyEventId } from '../../src/events/event-id.ts'
import { fixtureJson } from '../../test/helpers/fixtures.ts'

const V1 = fixtureJson('v1', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
const V2 = fixtureJson('v2', 'incident.trigger__pagerduty-developer-docs.json') as { messages: Record<string, unknown>[] }
const V3 = fixtureJson('v3', 'incident.triggered__zulip-fixture-2021.json') as { event: Record<string, unknown> }
const PING = fixtureJson('v3', 'pagey.ping__pd2zabbix-readme.json') as { event: Record<string, unknown> }

export const AUTH = 'soak:soak-password'
const GOOD = `Basic ${Buffer.from(AUTH).toString('base64')}`
const WRONG = `Basic ${Buffer.from('soak:wrong').toString('base64')}`

export type Kind = 'v1' | 'v2' | 'v3' | 'ping' | 'bad' | 'junk' | 'unauthorized' | 'large'
/** What a 2xx (or a 400 for junk) promises. */
export interface Webhook { kind: Kind; body: string; auth: string; events: string[]; bad: string[] }

/** Shares of the steady mix, in percent. */
const MIX: [Kind, number][] = [['v1', 35], ['v2', 25], ['v3', 25], ['ping', 3], ['bad', 4], ['junk', 4], ['unauthorized', 4]]

const v1Messages = (ids: string[]) => ids.map((m) => ({ ...structuredClone(V1.messages[0]), id: m }))

export function webhook(id: string, kind: Kind, random: () => number = Math.random): Webhook {
  const w = (body: string, events: string[] = [], bad: string[] = [], auth = GOOD): Webhook => ({ kind, body, auth, events, bad })
  switch (kind) {
    case 'v1': {
      const ids = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => `${id}-${i}`)
      return w(JSON.stringify({ messages: v1Messages(ids) }), ids.map((m) => pagerdutyEventId('v1', m, null)))
    }
    case 'v2': return w(JSON.stringify({ messages: [{ ...structuredClone(V2.messages[0]), id }] }), [pagerdutyEventId('v2', id, null)])
    case 'v3': return w(JSON.stringify({ event: { ...structuredClone(V3.event), id } }), [pagerdutyEventId('v3', id, null)])
    case 'ping': return w(JSON.stringify({ event: { ...structuredClone(PING.event), id } }))
    case 'bad': {
      // An unknown message type beside a good one: 2xx, one event and one bad row.
      const messages = [...v1Messages([`${id}-0`]), { ...structuredClone(V1.messages[0]), id: `${id}-bad`, type: 'incident.soak_unknown' }]
      return w(JSON.stringify({ messages }), [pagerdutyEventId('v1', `${id}-0`, null)], [`${id}-bad`])
    }
    // Not JSON: 400 once the raw body is durable in bad rows.
    case 'junk': return w(`{"id":"${id}-junk", "cut": `, [], [`${id}-junk`])
    case 'unauthorized': return w(JSON.stringify({ messages: v1Messages([`${id}-401`]) }), [], [], WRONG)
    case 'large': {
      // ~500 KiB: one v3 event whose description is padding (the JSON columns take it whole).
      const event = structuredClone(V3.event) as { id: string; data: Record<string, unknown> }
      event.id = id
      event.data = { ...event.data, description: 'x'.repeat(500 * 1024) }
      return w(JSON.stringify({ event }), [pagerdutyEventId('v3', id, null)])
    }
  }
}

export function pickKind(random: () => number = Math.random): Kind {
  let r = random() * 100
  for (const [kind, share] of MIX) if ((r -= share) < 0) return kind
  return 'v1'
}

export interface Tally {
  /** Event ids and bad-row markers acknowledged (2xx, or 400 for junk), each once. */
  events: Set<string>
  bad: Set<string>
  statuses: Map<string, number>
  webhooks: number
  /** Requests sent (answered or not). */
  sent: number
}

export const newTally = (): Tally => ({ events: new Set(), bad: new Set(), statuses: new Map(), webhooks: 0, sent: 0 })

export async function post(url: string, w: Webhook, tally: Tally): Promise<number> {
  let status = 0
  tally.sent++
  try {
    const res = await fetch(`${url}/com.pagerduty/v1`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: w.auth }, body: w.body })
    await res.arrayBuffer()
    status = res.status
  } catch { /* cut or refused: not acknowledged */ }
  const key = `${w.kind}:${status}`
  tally.statuses.set(key, (tally.statuses.get(key) ?? 0) + 1)
  const acked = (status >= 200 && status < 300) || (status === 400 && w.kind === 'junk')
  if (acked) {
    tally.webhooks++
    for (const e of w.events) tally.events.add(e)
    for (const b of w.bad) tally.bad.add(b)
  }
  return status
}

/**
 * Open-loop load at `rate` webhooks/s, sent every 20 ms, at most `inFlight` requests
 * outstanding (past it a tick's requests are skipped and counted, so a stalled collector is
 * not buried under an ever-growing queue of our own).
 */
export function startPacedLoad(url: string, rate: number, tally: Tally, prefix: string, inFlight = 64): { stop(): Promise<void>; skipped(): number } {
  let n = 0
  let outstanding = 0
  let skipped = 0
  const pending = new Set<Promise<unknown>>()
  const started = performance.now()
  // Due by the clock, not per tick: on a loaded machine the 20 ms timer fires late (the
  // first 25-minute soak, counting per tick, sent 340/s of the 400 asked).
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate)
    while (n + skipped < due) {
      if (outstanding >= inFlight) { skipped++; continue }
      outstanding++
      const p = post(url, webhook(`${prefix}-${n++}`, pickKind()), tally).finally(() => { outstanding--; pending.delete(p) })
      pending.add(p)
    }
  }, 20)
  return {
    async stop() { clearInterval(timer); await Promise.all(pending) },
    skipped: () => skipped,
  }
}

/** `count` large webhooks at once. */
export async function largeBurst(url: string, count: number, tally: Tally, prefix: string): Promise<number[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => post(url, webhook(`${prefix}-${i}`, 'large'), tally)))
}

/**
 * `count` clients that connect and stall: half stop in the middle of the headers, half
 * send the headers and a tenth of a declared body. Resolves after `holdMs` with how many
 * the collector closed on its own; the rest are closed by us.
 */
export async function stalledBurst(port: number, count: number, holdMs: number): Promise<{ closedByServer: number }> {
  let closedByServer = 0
  let ending = false
  const sockets = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const s = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {}, close() { if (!ending) closedByServer++ }, error() {} } })
    const head = `POST /com.pagerduty/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
    s.write(i % 2 === 0 ? head : `${head}Authorization: ${GOOD}\r\nContent-Length: 10000\r\n\r\n{"messages":[${' '.repeat(990)}`)
    return s
  }))
  await Bun.sleep(holdMs)
  ending = true
  for (const s of sockets) s.end()
  return { closedByServer }
}
