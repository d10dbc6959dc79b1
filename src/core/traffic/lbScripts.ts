/**
 * The shell scripts a split change runs on a load balancer's host, local or over ssh alike: one
 * transport call each, so a split change costs two round trips (stage+swap+test, reload+confirm).
 * Every path and value reaches a script as an argument ("$1" …), quoted by the transport's
 * shellCommand, never spliced into the script text. POSIX sh plus coreutils (head -c, tail -c, stat -c,
 * date +%s%3N) and wget or curl for the status endpoint.
 */
import type { CommandSpec } from '../config/rolloutConfig';
import type { RunResult } from '../exec/process';
import type { ExecOptions, Transport } from '../exec/transport';

/**
 * Fetches the status endpoint of "$addr" (wget, else curl); prints the body, nothing on failure.
 * wget first: it starts in half of curl's time (no libcurl and TLS stack to load), and this fetch
 * sits on the path between the reload and "confirmed live". Both are bounded to one try of about a
 * second: wget's default of 20 tries with growing waits would stall the confirm loop past its
 * deadline on an address that accepts and never answers.
 */
const FETCH = `fetch() {
  if command -v wget >/dev/null 2>&1; then wget -q --no-proxy -T 1 -t 1 -O - "http://$addr/" 2>/dev/null
  elif command -v curl >/dev/null 2>&1; then curl -sg --noproxy '*' -m 1 "http://$addr/" 2>/dev/null
  else echo '@nohttp'; fi
}`;

/**
 * Who runs on an LB file now: every stage and reload script writes "<pid> <op>" to <file>.run first,
 * and checks it is still its own before each step that moves a file (`mine`). A script whose command
 * was killed goes on running on the LB host (its own process group, or an ssh session nobody reads);
 * once a later command's script has taken the file over, the orphan stops instead of confirming,
 * swapping or marking an intent done that is no longer its own.
 */
const RUN_RECORD = `run_record() { echo "$$ $op" > "$f.run" || { echo "cannot write $f.run" >&2; exit 1; }; }
mine() { r=; read -r r 2>/dev/null < "$f.run"; [ "$r" = "$$ $op" ]; }
superseded() { echo "@superseded $r"; exit 0; }`;

/**
 * Stage, intent, swap and test. Args: file, intent JSON, derive (1: the test prints nginx -T, report
 * its pid and error_log), byte count of the new file (a shorter stdin is refused before any swap), op
 * id, test kind (sh|argv), test command…; stdin: the new file. Writes the intent
 * (with the live file's generation added) BEFORE anything else moves, then <file>.new, copies the live
 * file to <file>.prev, renames .new over it and runs the test. Few processes: on a small LB host each
 * fork costs milliseconds, so the shell's builtins do the parsing.
 */
export const STAGE_SCRIPT = `# phar-rollout:stage
f=$1; j=$2; derive=$3; n=$4; op=$5; kind=$6; shift 6
fail() { echo "$1" >&2; exit 1; }
${RUN_RECORD}
run_record
bg=; bs=; had=none
if [ -e "$f" ]; then
  had=had; h=
  read -r h 2>/dev/null < "$f"
  case $h in
    "# phar-rollout split="*)
      bs=\${h#"# phar-rollout split="}; bs=\${bs%% *}
      case $h in *" generation="*) bg=\${h##*" generation="} ;; esac ;;
  esac
  case $bs in *[!0-9.]*) bs= ;; esac
  case $bg in *[!0-9A-Za-z.-]*) bg= ;; esac
fi
printf '%s,"beforeGeneration":"%s","beforeSplit":"%s","hadFile":"%s"}\\n' "\${j%\\}}" "$bg" "$bs" "$had" > "$f.intent" || fail "cannot write $f.intent"
rm -f -- "$f.intent.done"
if [ "$had" = had ]; then cp -p -- "$f" "$f.new" || fail "cannot write $f.new"; fi
cat > "$f.new" || fail "cannot write $f.new"
[ "$(($(wc -c < "$f.new")))" -eq "$n" ] || { rm -f -- "$f.new"; fail "the new file arrived incomplete (the sender stopped): nothing swapped"; }
if [ "$had" = had ]; then cp -p -- "$f" "$f.prev" || fail "cannot copy $f to $f.prev"; fi
# A later command took the file over (this command was killed): its .new is not ours to swap.
mine || superseded
mv -f -- "$f.new" "$f" || fail "cannot move $f.new over $f"
echo "@swapped $had"
o="$f.test.$$"
if [ "$kind" = sh ]; then sh -c "$1" > "$o.out" 2> "$o.err"; else "$@" > "$o.out" 2> "$o.err"; fi
code=$?
echo "@test $code"
if [ "$derive" = 1 ]; then
  # Kept for reconcile, which has no nginx -T of its own.
  sed -n -e 's/^[[:space:]]*pid[[:space:]][[:space:]]*\\([^;[:space:]]*\\).*/@pid \\1/p' \\
    -e 's/^[[:space:]]*error_log[[:space:]][[:space:]]*\\([^;[:space:]]*\\).*/@errlog \\1/p' "$o.out" > "$f.nginx-paths"
  while read -r l; do echo "$l"; done < "$f.nginx-paths"
fi
if [ "$code" -ne 0 ]; then
  if [ -s "$o.err" ]; then tail -n 12 "$o.err"; else tail -n 12 "$o.out"; fi | sed 's/^/| /'
fi
rm -f -- "$o.out" "$o.err"
echo "@before"
if [ "$had" = had ]; then cat -- "$f.prev"; fi
exit 0`;

/**
 * Put a file in place (mode), reload, and confirm. Args: file, mode (apply: the file is in place;
 * restore: <file>.prev back over it; remove: the file did not exist before; keep: leave it; prev /
 * confirmed: copy that file over it; wait: read which of apply/restore/remove/keep from stdin first), act (reload|none), generation to confirm ('' = only old workers),
 * pid file, error log, deadline ms, status address, op id, reload kind (sh|argv), reload command…;
 * stdin (mode apply): the applied configuration, kept as <file>.applied.json once live.
 * Live = no worker that ran before the reload still accepts (each is gone or "shutting down", read
 * from /proc) AND then the status endpoint answers the generation. An [emerg] line in the error log
 * after the reload of a new file, or the deadline, is a failure; the error log's new lines are printed.
 * On success the file is copied to <file>.confirmed and the intent of this op is marked done
 * (<file>.intent.done). The poll loop uses builtins only (read) plus one sleep per turn. A script
 * taken over by a later one (see RUN_RECORD) prints `@superseded` and stops before its next file move.
 */
export const RELOAD_SCRIPT = `# phar-rollout:reload
f=$1; mode=$2; act=$3; gen=$4; pidf=$5; elog=$6; dl=$7; addr=$8; op=$9; shift 9; kind=$1; shift
${FETCH}
${RUN_RECORD}
if [ "$mode" = wait ]; then
  # Started beside the stage call, so that its ssh session is up when the stage's answer arrives; it
  # does nothing until told on stdin: "go" (then the pid file, the error log and the applied
  # configuration), or how to put the file back without a reload. End of input (the sender died or
  # went away): nothing is moved.
  w=; read -r w || w=
  case $w in
    go) mode=apply; act=reload; read -r pidf; read -r elog ;;
    restore|remove|keep) mode=$w; act=none ;;
    *) echo "@stopped"; exit 0 ;;
  esac
fi
run_record
ms() { date +%s%3N; }
# kids=the children of pid $1: /proc/<pid>/task/*/children where the kernel has it, else every
# /proc/*/stat's ppid (read with the builtin, into a variable: no process at all).
kids_of() {
  kids=
  if [ -r "/proc/$1/task/$1/children" ]; then
    for t in /proc/"$1"/task/*; do k=; read -r k 2>/dev/null < "$t/children"; kids="$kids $k"; done
    return
  fi
  want=$1
  for s in /proc/[0-9]*/stat; do
    l=; read -r l 2>/dev/null < "$s"
    set -- \${l##*) }
    [ "$2" = "$want" ] && { p=\${s#/proc/}; kids="$kids \${p%/stat}"; }
  done
}
# st=up when pid $1 is a worker that still accepts, down when shutting down, '' when gone (a variable,
# not $(...): a command substitution forks).
state_of() {
  c=; st=; read -r c 2>/dev/null < /proc/"$1"/cmdline
  case $c in *"shutting down"*) st=down ;; *"worker process"*) st=up ;; esac
}
has_op() { l=; read -r l 2>/dev/null < "$1"; case $l in *"\\"op\\":\\"$op\\""*) return 0 ;; esac; return 1; }
done_intent() { if [ -e "$f.intent" ] && has_op "$f.intent"; then mv -f -- "$f.intent" "$f.intent.done"; fi; }
if [ "$mode" = apply ]; then cat > "$f.applied.json.new"; fi
if [ "$mode" != apply ] && [ -e "$f.intent.done" ] && has_op "$f.intent.done"; then mv -f -- "$f.intent.done" "$f.intent"; fi
case $mode in
  restore) mv -f -- "$f.prev" "$f" || { echo "cannot move $f.prev back over $f" >&2; exit 1; } ;;
  remove) rm -f -- "$f" || exit 1 ;;
  prev|confirmed) cp -p -- "$f.$mode" "$f.tmp.$$" && mv -f -- "$f.tmp.$$" "$f" || { echo "cannot copy $f.$mode over $f" >&2; exit 1; } ;;
esac
if [ "$mode" != apply ]; then rm -f -- "$f.applied.json.new" "$f.new"; fi
echo "@placed"
if [ "$act" != reload ]; then done_intent; echo "@done"; exit 0; fi
master=; read -r master 2>/dev/null < "$pidf"
case $master in ''|*[!0-9]*) master=; echo "@nopid $pidf" ;; esac
before=
if [ -n "$master" ]; then
  kids_of "$master"
  for p in $kids; do state_of "$p"; [ "$st" = up ] && before="$before $p"; done
fi
es=0
if [ -r "$elog" ]; then es=$(stat -c %s -- "$elog" 2>/dev/null || echo 0); fi
t0=$(ms)
# The output in a variable, not a temp file: nothing to remove after, nothing left if this is killed.
if [ "$kind" = sh ]; then rl=$(sh -c "$1" 2>&1); else rl=$("$@" 2>&1); fi
code=$?
if [ "$code" -ne 0 ]; then echo "@reload $code"; printf '%s\n' "$rl" | tail -n 12 | sed 's/^/| /'; exit 0; fi
mine || superseded
newlog() { if [ -r "$elog" ]; then tail -c +"$((es + 1))" -- "$elog" | tail -n 12 | sed 's/^/| /'; fi; }
emerg() { [ "$mode" = apply ] && [ -r "$elog" ] && tail -c +"$((es + 1))" -- "$elog" | grep -q '\\[emerg\\]'; }
n=0; seen=0
[ -z "$gen" ] && seen=1
while :; do
  still=
  for p in $before; do state_of "$p"; [ "$st" = up ] && still="$still $p"; done
  if [ -z "$still" ] && [ -n "$master" ]; then
    # Old workers no longer accept: a new connection reaches a new worker, so one answer of the
    # generation proves it live. Asked only now (not polled from the reload on): each fetch is a
    # process, and on a small LB host they would slow down the very workers being started.
    if [ "$seen" = 0 ]; then case $(fetch) in *"\\"generation\\":\\"$gen\\""*) seen=1 ;; esac; fi
    if [ "$seen" = 1 ]; then
      mine || superseded
      ln -f -- "$f" "$f.confirmed" 2>/dev/null || cp -p -- "$f" "$f.confirmed"
      if [ "$mode" = apply ] && [ -e "$f.applied.json.new" ]; then mv -f -- "$f.applied.json.new" "$f.applied.json"; fi
      done_intent
      echo "@live $(($(ms) - t0))"; exit 0
    fi
  fi
  n=$((n + 1))
  # Every 8th turn (some 50 ms): nginx's own word on a failed reload (only for a new file: after a
  # failed reload the master may still log its bind retries while a revert's reload waits its turn),
  # and the deadline.
  if [ $((n % 8)) -eq 0 ]; then
    mine || superseded
    if emerg; then echo "@emerg"; newlog; exit 0; fi
    el=$(($(ms) - t0))
    if [ "$el" -gt "$dl" ]; then echo "@timeout $el seen=$seen old=$still"; newlog; exit 0; fi
  fi
  # nginx's master starts the new workers, then waits 100 ms before it tells the old ones to stop: no
  # point in looking before half of that (each turn's sleep is a process, competing with nginx for CPU).
  if [ $n -eq 1 ] && [ -n "$still" ]; then sleep 0.05; else sleep 0.005; fi
done`;

/**
 * What one LB holds and serves, in one call. Args: file, status address. Prints the header line of the
 * file, of .prev and .confirmed, the pid file and error log nginx -T named, the intents with their age in seconds by the LB host's clock, and the
 * status endpoint's answer.
 */
export const INSPECT_SCRIPT = `# phar-rollout:inspect
f=$1; addr=$2
${FETCH}
now=$(date +%s)
for k in '' .prev .confirmed; do
  if [ -r "$f$k" ]; then echo "@head$k $(head -n 1 -- "$f$k")"; fi
done
if [ -r "$f.nginx-paths" ]; then cat -- "$f.nginx-paths"; fi
for k in intent intent.done; do
  if [ -r "$f.$k" ]; then m=$(stat -c %Y -- "$f.$k" 2>/dev/null || echo "$now"); echo "@$k $((now - m)) $(head -n 1 -- "$f.$k")"; fi
done
echo "@status $(fetch | head -c 4096 | tr -d '\\n')"
exit 0`;

/** Reads one sidecar file (`<file>.applied.json`). Args: path. Exit 3: missing. */
export const READ_SCRIPT = `# phar-rollout:read
if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi`;

/** Writes stdin over <file> (a repair: nginx already serves that text, so no reload). Args: file. */
export const PUT_SCRIPT = `# phar-rollout:put
f=$1
if [ -e "$f" ]; then cp -p -- "$f" "$f.tmp.$$" || exit 1; fi
cat > "$f.tmp.$$" && mv -f -- "$f.tmp.$$" "$f"`;

/** Runs `script` on the transport's host with `args` as $1…; never throws on a non-zero exit. */
export function runScript(
  transport: Transport,
  script: string,
  args: readonly string[],
  options: { input?: ExecOptions['input']; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<RunResult> {
  return transport.exec(['sh', '-c', script, 'sh', ...args], { ...options, allowFailure: true, timeoutMs: options.timeoutMs ?? 60000 });
}

/** A command spec as script arguments: kind then the words. */
export function commandArgs(spec: CommandSpec): string[] {
  return typeof spec === 'string' ? ['sh', spec] : ['argv', ...spec];
}

/** Lines of a script's output: `@key value` markers and `| `-prefixed foreign text. */
export function markers(stdout: string): { marks: Map<string, string>; quoted: string[] } {
  const marks = new Map<string, string>();
  const quoted: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('| ')) quoted.push(line.slice(2));
    else if (line.startsWith('@')) {
      const sp = line.indexOf(' ');
      const key = sp < 0 ? line.slice(1) : line.slice(1, sp);
      if (!marks.has(key)) marks.set(key, sp < 0 ? '' : line.slice(sp + 1));
    }
  }
  return { marks, quoted };
}
