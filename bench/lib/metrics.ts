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
