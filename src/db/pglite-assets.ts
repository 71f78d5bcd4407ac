/**
 * PGlite's WebAssembly and data files, imported as files so `bun build --compile` embeds them
 * in the executable (PGlite's own lookup next to its module fails inside the binary's
 * /$bunfs, oven-sh/bun#15032). The package does not export dist/, hence the relative path.
 * Compiled once per process and passed to `PGlite.create`.
 */
import pgliteWasmPath from '../../node_modules/@electric-sql/pglite/dist/pglite.wasm' with { type: 'file' }
import initdbWasmPath from '../../node_modules/@electric-sql/pglite/dist/initdb.wasm' with { type: 'file' }
import pgliteDataPath from '../../node_modules/@electric-sql/pglite/dist/pglite.data' with { type: 'file' }

export interface PgliteAssets { pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module; fsBundle: Blob }

export async function loadPgliteAssets(): Promise<PgliteAssets> {
  const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
    WebAssembly.compile(await Bun.file(pgliteWasmPath).arrayBuffer()),
    WebAssembly.compile(await Bun.file(initdbWasmPath).arrayBuffer()),
  ])
  return { pgliteWasmModule, initdbWasmModule, fsBundle: Bun.file(pgliteDataPath) }
}
