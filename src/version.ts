import pkg from '../package.json' with { type: 'json' }

/** The package version: what `v_collector` and `v_etl` carry, the same for every build of it. */
export const VERSION: string = pkg.version

/** Set by scripts/build.sh (`bun build --define`); absent when run from source. */
declare const COLLECTOR_COMMIT: string | undefined

/** The commit the binary was built from (`git describe`), or `source` when run from source. */
export const COMMIT: string = typeof COLLECTOR_COMMIT === 'string' ? COLLECTOR_COMMIT : 'source'

/** `collector --version`: `0.1.0 (commit 1a2b3c4d5e6f)`. */
export const VERSION_TEXT = `${VERSION} (commit ${COMMIT})`
