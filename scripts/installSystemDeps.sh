#!/usr/bin/env bash
# Installs the Debian packages that Phar Rollout's build, tests and demo need, and only those
# that are missing. Runs `apt-get update` once, and only when there is something to install.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

log() { echo "[installSystemDeps] $*" >&2; }

# package -> a command it provides ("" = check the package with dpkg only)
declare -A COMMAND_OF=(
  [php-cli]=php
  [php8.2-fpm]=""
  [php-mbstring]=""
  [php-xml]=""
  [composer]=composer
  [nginx]=nginx
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=ssh
  [git]=git
  [wrk]=wrk
  [chromium]=/usr/bin/chromium
  [build-essential]=""
  [python3]=python3
  [pkg-config]=pkg-config
  [libkrb5-dev]=""
  [ripgrep]=rg
  [iproute2]=ip
  [unzip]=unzip
  [wget]=wget
  [curl]=curl
)
# php8.2-fpm (Debian 12): the php-fpm backends of the sandbox and the tests (its service is not used:
# every pool runs as a user process with its own config). wget and curl: the LB scripts read the
# status endpoint with wget, else curl (a bare Debian image has neither).
PACKAGES=(php-cli php8.2-fpm php-mbstring php-xml composer nginx openssh-server openssh-client git wrk
  chromium build-essential python3 pkg-config libkrb5-dev ripgrep iproute2 unzip wget curl)

is_installed() {
  local pkg="$1" cmd="${COMMAND_OF[$1]}"
  if [ -n "$cmd" ]; then
    if [[ "$cmd" == /* ]]; then [ -x "$cmd" ] && return 0; else command -v "$cmd" >/dev/null 2>&1 && return 0; fi
  fi
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
# Some tools come from other packages than the ones named above; make sure the named ones
# that hold PHP extensions are really present (php -m is the truth for those).
if command -v php >/dev/null 2>&1; then
  php -m 2>/dev/null | grep -qi '^mbstring$' || [[ " ${missing[*]} " == *" php-mbstring "* ]] || missing+=(php-mbstring)
  php -m 2>/dev/null | grep -qi '^dom$' || [[ " ${missing[*]} " == *" php-xml "* ]] || missing+=(php-xml)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  log "all system packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
    log "missing packages (${missing[*]}) and not root: install them with apt-get"
    exit 1
  fi
else
  SUDO=()
fi

log "installing: ${missing[*]}"
"${SUDO[@]}" apt-get update -q </dev/null
"${SUDO[@]}" apt-get install -y -q "${missing[@]}" </dev/null
log "done"
