/** (vendor, version) -> adapter, as Snowplow's AdapterRegistry routes `/vendor/version`. */
import type { Adapter } from './types.ts'

export interface Registry { lookup(vendor: string, version: string): Adapter | undefined; routes(): string[] }

export function createRegistry(adapters: readonly Adapter[]): Registry {
  const byKey = new Map<string, Adapter>()
  for (const adapter of adapters) for (const version of adapter.versions) byKey.set(`${adapter.vendor}/${version}`, adapter)
  return {
    lookup: (vendor, version) => byKey.get(`${vendor}/${version}`),
    routes: () => [...byKey.keys()].map((k) => `/${k}`),
  }
}
