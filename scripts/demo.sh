#!/usr/bin/env bash
# npm run demo: VS Code (code-server) in the browser with Phar Rollout installed, opening a copy
# of test/fixtures/sample-app. Installs what is missing first. Stays in the foreground; Ctrl-C stops it.
#
#   PORT=8080                  port (default 8080)
#   DEMO_HOST=127.0.0.1        address to listen on (default loopback; another one turns on a password)
#   PASSWORD=...               password when DEMO_HOST is not loopback (default: a random one, printed)
#   PHAR_ROLLOUT_DEMO_DIR      the demo folder (default /tmp/phar-rollout-demo): the sandbox's backends,
#                              nginx and project/ (a copy of the fixture, kept across restarts)
#   PHAR_ROLLOUT_DEMO_FRESH=1  start over from a fresh copy of the fixture
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

DEMO_DIR="${PHAR_ROLLOUT_DEMO_DIR:-/tmp/phar-rollout-demo}"
STATE_DIR="${PHAR_ROLLOUT_DEMO_STATE:-$REPO_ROOT/.cache/demo}"
HOST="${DEMO_HOST:-127.0.0.1}"
PORT="${PORT:-8080}"
FIXTURE="$REPO_ROOT/test/fixtures/sample-app"

log() { echo "[demo] $*" >&2; }

# 1. What the demo needs, installed only when missing.
bash scripts/installSystemDeps.sh
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
ENTRY="$(bash scripts/installCodeServer.sh | tail -n 1)"
npm run --silent compile

# 2. The demo folder: the sandbox (step 4) makes DEMO_DIR/project, a git copy of the sample app with
#    its rollout.json, and keeps it (releases, split, history) across restarts.
if [ "${PHAR_ROLLOUT_DEMO_FRESH:-}" = "1" ] && [ -d "$DEMO_DIR" ]; then
  node dist/cli.js sandbox down --dir "$DEMO_DIR" >/dev/null 2>&1 || true
  rm -rf "$DEMO_DIR"
fi
mkdir -p "$DEMO_DIR"
PROJECT_DIR="$DEMO_DIR/project"

# 3. The extension, installed as an unpacked copy (fresh each time, so a compile shows up).
EXT_ID="$(node -p 'const p=require("./package.json"); `${p.publisher}.${p.name}-${p.version}`')"
EXT_DIR="$STATE_DIR/extensions"
rm -rf "$EXT_DIR"
mkdir -p "$EXT_DIR/$EXT_ID" "$STATE_DIR/data/User"
for entry in * .[!.]*; do
  case "$entry" in
    .git|.cache|.ci|node_modules|out|src|test|test-results|bench|.rollout|scripts|*.vsix) continue ;;
  esac
  if [ -e "$entry" ]; then cp -RL "$entry" "$EXT_DIR/$EXT_ID/"; fi
done

cat > "$STATE_DIR/data/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "workbench.tips.enabled": false,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "remote.autoForwardPorts": false,
  "pharRollout.revealOnStartup": true,
  "git.openRepositoryInParentFolders": "never"
}
JSON

AUTH=none
case "$HOST" in
  127.*|localhost|::1) ;;
  *)
    AUTH=password
    if [ -z "${PASSWORD:-}" ]; then
      PASSWORD="$(node -p 'require("crypto").randomBytes(12).toString("base64url")')"
    fi
    export PASSWORD
    ;;
esac
printf 'bind-addr: %s:%s\nauth: %s\ncert: false\n' "$HOST" "$PORT" "$AUTH" > "$STATE_DIR/config.yaml"

# 4. The local sandbox (backends, nginx) for the demo project, once the CLI has it.
SANDBOX=1
node dist/cli.js sandbox up --dir "$DEMO_DIR" --json

CS_PID=""
cleanup() {
  if [ -n "$CS_PID" ] && kill -0 "$CS_PID" 2>/dev/null; then
    kill -TERM -- "-$CS_PID" 2>/dev/null || kill -TERM "$CS_PID" 2>/dev/null || true
    wait "$CS_PID" 2>/dev/null || true
  fi
  if [ "$SANDBOX" = "1" ]; then
    node dist/cli.js sandbox down --dir "$DEMO_DIR" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

URL_HOST="$HOST"
case "$URL_HOST" in *:*) URL_HOST="[$URL_HOST]" ;; esac
echo
echo "Phar Rollout demo: http://$URL_HOST:$PORT/?folder=$PROJECT_DIR"
if [ "$AUTH" = "password" ]; then echo "password: $PASSWORD"; fi
echo "(Ctrl-C stops it)"
echo

# 5. code-server in its own process group (so cleanup stops its whole tree); we wait on it.
env -u VSCODE_IPC_HOOK_CLI EXTENSIONS_GALLERY='{}' setsid node "$ENTRY" \
  --bind-addr "$HOST:$PORT" --auth "$AUTH" \
  --extensions-dir "$EXT_DIR" --user-data-dir "$STATE_DIR/data" --config "$STATE_DIR/config.yaml" \
  --disable-telemetry --disable-update-check --ignore-last-opened --disable-getting-started-override \
  "$PROJECT_DIR" &
CS_PID=$!
wait "$CS_PID"
