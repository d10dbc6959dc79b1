#!/usr/bin/env bash
# Installs code-server 4.100.3 (= VS Code 1.100.3) from the npm registry into a cache folder,
# without any download from outside the npm registry (ripgrep comes from Debian's package).
# Idempotent: does nothing when the right version is already installed there.
# Prints the path of code-server's entry.js on the last line of its output.
#
#   PHAR_ROLLOUT_CACHE   cache folder (default: <repo>/.cache/code-server)
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
RIPGREP_CACHE_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${PHAR_ROLLOUT_CACHE:-$REPO_ROOT/.cache/code-server}"
ENTRY="$CACHE_DIR/node_modules/code-server/out/node/entry.js"
PKG_JSON="$CACHE_DIR/node_modules/code-server/package.json"

log() { echo "[installCodeServer] $*" >&2; }

installed_version() {
  [ -f "$PKG_JSON" ] && [ -f "$ENTRY" ] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$PKG_JSON" 2>/dev/null || true
}

# The postinstall also builds the VS Code part; a finished install has its server entry.
complete_install() {
  [ -f "$CACHE_DIR/node_modules/code-server/lib/vscode/out/server-main.js" ] &&
    [ -f "$CACHE_DIR/.installed-$CODE_SERVER_VERSION" ]
}

if [ "$(installed_version)" = "$CODE_SERVER_VERSION" ] && complete_install; then
  log "code-server $CODE_SERVER_VERSION already installed in $CACHE_DIR"
  echo "$ENTRY"
  exit 0
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != "20" ]; then
  log "code-server $CODE_SERVER_VERSION needs Node 20 exactly; this is Node $(node --version)"
  exit 1
fi

for tool in rg make g++ python3 pkg-config; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "missing '$tool': run scripts/installSystemDeps.sh first (ripgrep build-essential python3 pkg-config libkrb5-dev)"
    exit 1
  fi
done
if ! pkg-config --exists krb5-gssapi 2>/dev/null && [ ! -f /usr/include/gssapi/gssapi.h ]; then
  log "missing Kerberos headers: run scripts/installSystemDeps.sh first (libkrb5-dev)"
  exit 1
fi

# Seed @vscode/ripgrep's download cache with Debian's rg so its postinstall does not go to GitHub.
RG_CACHE_DIR="${TMPDIR:-/tmp}/vscode-ripgrep-cache-$RIPGREP_CACHE_VERSION"
RG_TARBALL="$RG_CACHE_DIR/$RIPGREP_ASSET"
if [ ! -s "$RG_TARBALL" ]; then
  log "seeding ripgrep cache $RG_TARBALL from $(command -v rg)"
  mkdir -p "$RG_CACHE_DIR"
  staging="$(mktemp -d)"
  trap 'rm -rf "$staging"' EXIT
  cp "$(command -v rg)" "$staging/rg"
  chmod 755 "$staging/rg"
  tar -czf "$RG_TARBALL.tmp" -C "$staging" rg
  mv "$RG_TARBALL.tmp" "$RG_TARBALL"
fi

log "installing code-server $CODE_SERVER_VERSION into $CACHE_DIR (takes a few minutes)"
mkdir -p "$CACHE_DIR"
rm -f "$CACHE_DIR"/.installed-*
# The cache is its own little npm project. allowScripts lets npm 11 run the install scripts
# that code-server needs (its postinstall installs VS Code's own modules) without a warning.
cat > "$CACHE_DIR/package.json" <<JSON
{
  "name": "phar-rollout-code-server-cache",
  "private": true,
  "dependencies": { "code-server": "$CODE_SERVER_VERSION" },
  "allowScripts": { "code-server": true, "argon2": true }
}
JSON

start=$(date +%s)
(
  cd "$CACHE_DIR"
  export npm_config_yes=true
  export npm_config_unsafe_perm=true # what code-server's postinstall checks (as root)
  export npm_config_update_notifier=false
  npm install --unsafe-perm --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" </dev/null >&2
)

if [ "$(installed_version)" != "$CODE_SERVER_VERSION" ] || [ ! -f "$CACHE_DIR/node_modules/code-server/lib/vscode/out/server-main.js" ]; then
  log "code-server install in $CACHE_DIR is incomplete"
  exit 1
fi
touch "$CACHE_DIR/.installed-$CODE_SERVER_VERSION"
log "installed code-server $CODE_SERVER_VERSION in $(( $(date +%s) - start ))s"
echo "$ENTRY"
