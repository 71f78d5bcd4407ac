/** Reads one unlabelled or exactly-labelled series from a /metrics text. */
export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN
}

export async function scrape(base: string): Promise<{ backlog: number; loaded: number; accepted: number; up: number }> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return {
    backlog: metricValue(text, 'collector_spool_backlog_events'),
    loaded: metricValue(text, 'collector_events_loaded_total', 'version="v1"') || 0,
    accepted: metricValue(text, 'collector_events_accepted_total', 'version="v1"') || 0,
    up: metricValue(text, 'collector_database_up'),
  }
}

/** Webhooks the collector itself answered in more than `le` seconds (a bucket bound of its request-duration histogram). */
export function slowAnswers(text: string, le: string, route = '/com.pagerduty/v1'): { total: number; over: number } {
  const bucket = (bound: string) => metricValue(text, 'collector_http_request_duration_seconds_bucket', `route="${route}",le="${bound}"`) || 0
  const total = bucket('+Inf')
  return { total, over: total - bucket(le) }
}

/** Polls /metrics until the backlog is empty; throws after `timeoutMs`. */
export async function waitDrained(c: { base: string }, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if ((await scrape(c.base)).backlog === 0) return
    await Bun.sleep(50)
  }
  throw new Error('backlog did not drain')
}
