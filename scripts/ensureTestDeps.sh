#!/usr/bin/env bash
# `npm test`'s pretest: whatever the four test layers need and this machine lacks — Debian packages,
# node_modules, code-server. Each step is a quick no-op when its part is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/installSystemDeps.sh </dev/null
if [ ! -f node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund </dev/null; fi
bash scripts/installCodeServer.sh </dev/null >/dev/null
