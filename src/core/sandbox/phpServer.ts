import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { run } from '../exec/process';

/**
 * Starts, stops and restarts one `php -S` backend that serves `<dir>/current/<phar>`. It is the
 * sandbox's restart hook: a running php does not notice that `current` moved (a deploy restarts,
 * then probe), so the hook stops the whole process group, starts php again on the same port
 * and returns once the port accepts connections. State lives in the backend dir: php.pid, php.log.
 * php runs in its own session (setsid), so it outlives the command that started it.
 */
export const PHP_BACKEND_SCRIPT = `#!/bin/sh
# phar-rollout sandbox backend control (written by phar-rollout; safe to delete with the sandbox).
# Usage: php-backend.sh start|stop|restart BACKEND_DIR PORT PHAR
set -u
action=$1 dir=$2 port=$3 phar=$4
pidfile="$dir/php.pid"

# A zombie still answers kill -0; look at its state too.
alive() {
  [ -n "\${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  state=$(sed -n 's/^[0-9]* (.*) \\([A-Z]\\).*/\\1/p' "/proc/$1/stat" 2>/dev/null)
  [ "$state" != Z ]
}

# Polls a condition every 50 ms, at most N times, then tries it once more.
within() {
  n=$1; shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.05; n=$((n - 1)); done
  "$@"
}

# True while a live (not zombie) process is in process group $1. Zombies can linger for a
# while when init reaps slowly, so kill -0 on the group is not enough.
group_alive() {
  kill -0 "-$1" 2>/dev/null || return 1
  [ -d /proc/self ] || return 0
  for f in /proc/[0-9]*/stat; do
    { read -r line < "$f"; } 2>/dev/null || continue
    set -- "$1" \${line##*) }
    [ "$4" = "$1" ] && [ "$2" != Z ] && return 0
  done
  return 1
}

# Gone: the php master and every worker of its process group (the workers outlive a lone master).
gone() { ! alive "$1" && ! group_alive "$1"; }
listening() { php -r 'exit(@fsockopen("127.0.0.1", (int)$argv[1], $e, $s, 0.2) ? 0 : 1);' "$port"; }
started() { alive "$pid" && listening; }

stop() {
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && ! gone "$pid"; then
    # php runs as the leader of its own process group (setsid): signal the whole group.
    kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    if ! within 100 gone "$pid"; then
      kill -KILL "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
      within 40 gone "$pid" || { echo "php (pid $pid) does not stop" >&2; exit 1; }
    fi
  fi
  rm -f "$pidfile"
}

start() {
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && alive "$pid"; then echo "running (pid $pid)"; return 0; fi
  [ -f "$dir/current/$phar" ] || { echo "no release to serve: $dir/current/$phar" >&2; exit 1; }
  mkdir -p "$dir/.docroot"
  PHP_CLI_SERVER_WORKERS=\${PHP_CLI_SERVER_WORKERS:-4} setsid php -S "127.0.0.1:$port" -t "$dir/.docroot" "$dir/current/$phar" >>"$dir/php.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" > "$pidfile"
  if ! within 200 started; then
    echo "php did not start on 127.0.0.1:$port; last lines of $dir/php.log:" >&2
    tail -n 5 "$dir/php.log" >&2
    stop
    exit 1
  fi
  echo "started (pid $pid)"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
`;

export const PHP_BACKEND_SCRIPT_NAME = 'php-backend.sh';

/** Writes the control script into `dir` and returns its path. */
export async function writePhpBackendScript(dir: string): Promise<string> {
  const file = path.join(dir, PHP_BACKEND_SCRIPT_NAME);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(file, PHP_BACKEND_SCRIPT, { mode: 0o755 });
  return file;
}

/** The argument vector that runs `action` on one backend: also the backend's `restart` hook. */
export function phpBackendCommand(
  script: string,
  action: 'start' | 'stop' | 'restart',
  backendDir: string,
  port: number,
  phar: string,
): string[] {
  return ['sh', script, action, backendDir, String(port), phar];
}

/** Runs the control script here and returns the php pid after start/restart (undefined after stop). */
export async function controlPhpBackend(
  script: string,
  action: 'start' | 'stop' | 'restart',
  backendDir: string,
  port: number,
  phar: string,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const [cmd, ...args] = phpBackendCommand(script, action, backendDir, port, phar);
  await run(cmd, args, { signal, timeoutMs: 30000 });
  if (action === 'stop') return undefined;
  return readPid(path.join(backendDir, 'php.pid'));
}

/** The pid in a pid file, or undefined. */
export async function readPid(file: string): Promise<number | undefined> {
  try {
    const n = Number((await fs.readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True while `pid` runs (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill -0
  }
}

/** True while a live (not zombie) process is in process group `pgid` (zombies can linger until init reaps them). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return true; // no /proc: trust kill -0
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

/**
 * Stops process group `pgid` (a php backend: master and workers): TERM, then KILL after 3 s;
 * resolves once no live process of the group is left, throws if one stays.
 */
export async function stopGroup(pgid: number, what: string): Promise<void> {
  const gone = () => !isAlive(pgid) && !isGroupAlive(pgid);
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    if (gone()) return;
    try {
      process.kill(-pgid, sig);
    } catch {
      try {
        process.kill(pgid, sig); // not a group leader after all
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 3000;
    while (!gone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  if (!gone()) throw new Error(`${what} does not stop`);
}
