/**
 * The benchmark's yardstick: a bare Bun.serve that reads and parses the same JSON body and
 * answers 202, with no validation, no spool and no database. The collector's accept rate is
 * reported as a fraction of this server's, measured with the same load in the same run.
 */
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(req) {
    const body = (await req.json()) as { messages?: unknown[] }
    return Response.json({ accepted: body.messages?.length ?? 0 }, { status: 202 })
  },
})
process.stdout.write(`${server.port}\n`)
process.on('SIGTERM', () => { server.stop(true); process.exit(0) })
