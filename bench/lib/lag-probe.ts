/**
 * Preloaded into a collector run from source (`bun --preload bench/lib/lag-probe.ts
 * src/main.ts serve`): every event-loop stall over 50 ms goes to stderr as `LAG <ms since
 * LAG_T0_MS> <stall ms>`, so a timeline can set them against the log lines. Not in the binary.
 */
const t0 = Number(process.env.LAG_T0_MS ?? Date.now())
let last = performance.now()
setInterval(() => {
  const now = performance.now()
  const lag = now - last - 10
  if (lag > 50) process.stderr.write(`LAG ${Date.now() - t0} ${Math.round(lag)}\n`)
  last = now
}, 10).unref()
