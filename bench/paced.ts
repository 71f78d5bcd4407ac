/**
 * An open-loop load generator: schedules requests by the clock at a fixed rate and measures
 * each latency from its scheduled time (not its send time), so a stalled server shows up in
 * the percentiles instead of silently lowering the rate (coordinated omission).
 * Usage: bun bench/paced.ts URL RATE SECONDS TEMPLATE_FILE PREFIX; prints one JSON line.
 */
const [url, rateText, secondsText, templateFile, prefix] = process.argv.slice(2) as [string, string, string, string, string]
const rate = Number(rateText)
const seconds = Number(secondsText)
export {}
const template = await Bun.file(templateFile).text()
const total = Math.round(rate * seconds)
const latencies = new Float64Array(total)
// How late each request left this process: the generator's own share of the latency when it
// is starved of CPU (it shares the machine with the collector and the database).
const sendLags = new Float64Array(total)
let sent = 0
let done = 0
let ok = 0
let non2xx = 0
let errors = 0

const start = performance.now()
await new Promise<void>((resolve) => {
  const fire = (i: number, scheduledAt: number) => {
    sendLags[i] = performance.now() - scheduledAt
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: template.replaceAll('@@ID@@', `${prefix}-${i}`) })
      .then(async (response) => {
        await response.arrayBuffer()
        if (response.status >= 200 && response.status < 300) ok++
        else non2xx++
      }, () => { errors++ })
      .finally(() => {
        latencies[i] = performance.now() - scheduledAt
        if (++done === total) resolve()
      })
  }
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000))
    while (sent < due) { fire(sent, start + (sent * 1000) / rate); sent++ }
    if (sent < total) setTimeout(tick, 1)
  }
  tick()
})
const elapsed = (performance.now() - start) / 1000
const sorted = latencies.slice(0, done).sort()
const pct = (p: number, of: Float64Array = sorted) => of[Math.min(of.length - 1, Math.floor((p / 100) * of.length))] ?? NaN
const lags = sendLags.slice(0, sent).sort()
process.stdout.write(`${JSON.stringify({ rate, seconds, sent: total, ok, non2xx, errors, achieved_rps: total / elapsed, p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99), max_ms: sorted.at(-1) ?? NaN, send_lag_p99_ms: pct(99, lags), send_lag_max_ms: lags.at(-1) ?? NaN })}\n`)
