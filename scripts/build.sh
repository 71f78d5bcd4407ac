#!/usr/bin/env bash
# `npm run build`: dist/collector (or the path given), one executable: Bun's runtime, the code,
# the SQL and PGlite's files. The commit it is built from (`git describe`, `-dirty` with
# uncommitted changes, `unknown` outside a checkout) goes into `collector --version` and
# `collector_build_info{commit}`, so operators can tell builds of one version apart. The
# embedded database's thread is an entry point of its own (src/db/embedded.ts starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist/collector}"
commit="$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
exec "${BUN:-bun}" build --compile --minify-syntax --minify-whitespace --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --define "COLLECTOR_COMMIT=\"$commit\"" src/main.ts src/db/embedded-worker.ts --outfile "$out"
