/** (vendor, version) -> adapter, as Snowplow's AdapterRegistry routes `/vendor/version`. */
import type { Adapter } from './types.ts'
import type { Rebuild } from '../sink/records.ts'
import { badRow } from '../events/bad-row.ts'

export interface Registry { lookup(vendor: string, version: string): Adapter | undefined; routes(): string[] }

export function createRegistry(adapters: readonly Adapter[]): Registry {
  const byKey = new Map<string, Adapter>()
  for (const adapter of adapters) for (const version of adapter.versions) byKey.set(`${adapter.vendor}/${version}`, adapter)
  return {
    lookup: (vendor, version) => byKey.get(`${vendor}/${version}`),
    routes: () => [...byKey.keys()].map((k) => `/${k}`),
  }
}

/**
 * Builds a stored request's events again, as the HTTP edge did when it accepted it (the
 * adapters are pure). A request that no longer builds (an adapter changed in an upgrade)
 * keeps its raw body as a bad row.
 */
export function rebuildWith(registry: Registry): Rebuild {
  return (request, body, rawBody) => {
    const adapter = registry.lookup(request.vendor, request.version)
    const result = adapter?.toEvents({ body, rawBody, ctx: request.ctx })
    if (result?.ok) return { events: result.events, badRows: result.badRows }
    const message = result ? `${result.code}: ${result.message}` : `no adapter for /${request.vendor}/${request.version}`
    return { events: [], badRows: [badRow(request.ctx, 'rebuild', 'REBUILD_FAILED', [{ path: '', message }], null, rawBody)] }
  }
}
