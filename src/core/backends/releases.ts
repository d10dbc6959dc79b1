import * as os from 'node:os';
import type { Artifact, ArtifactManifest } from '../phar/artifact';
import { OperationError, throwIfAborted } from '../errors';
import type { Transport } from '../exec/transport';
import type { RunResult } from '../exec/process';
import { hostFilesOn } from '../exec/hostFiles';
import { acquireHostLock } from '../exec/hostLock';
import type { HeldLock, LockSite } from '../exec/hostLock';
import type { HostScript, ScriptResult } from '../exec/hostFiles';

// Layout on a backend (README, "Files"): <dir>/releases/<id>/<app>.phar + release.json,
// <dir>/current and <dir>/previous (symlinks to releases/<id>), <dir>/.rollout.lock.
export const RELEASES_DIR = 'releases';
export const LOCK_DIR = '.rollout.lock';
export const RELEASE_JSON = 'release.json';

/** release.json: the artifact's manifest plus who put it there and when. */
export interface ReleaseInfo extends ArtifactManifest {
  deployedAt: string;
  deployedBy: string;
}

/** Which releases the `current` and `previous` links point at (release ids). */
export interface ReleaseLinks {
  current?: string;
  previous?: string;
}

export interface ReleaseEntry {
  id: string;
  current: boolean;
  previous: boolean;
  /** Absent for an incomplete release (upload never finished). */
  release?: ReleaseInfo;
}

export interface RemoteOptions {
  signal?: AbortSignal;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const PHAR_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,126}\.phar$/;

/** Refuses ids that could escape `releases/` or confuse a listing. */
export function checkReleaseId(id: string): string {
  if (!ID_RE.test(id) || id.includes('..'))
    throw new OperationError(`"${id}" is not a valid release id`, { step: 'release', artifact: id });
  return id;
}

function join(dir: string, ...parts: string[]): string {
  return [dir.replace(/\/+$/, '') || '/', ...parts].join('/');
}

function idOfTarget(target: string): string | undefined {
  if (!target) return undefined;
  const m = /^(?:.*\/)?releases\/([^/]+)\/?$/.exec(target);
  return m ? m[1] : target;
}

// Points each named link at its target atomically (new link beside it, then rename over);
// an empty target removes the link.
const SET_LINKS = `set -e
cd -- "$1"; shift
while [ $# -gt 1 ]; do
  if [ -z "$2" ]; then rm -f -- "$1"; else ln -sfn -- "$2" ".$1.tmp"; mv -T -- ".$1.tmp" "$1"; fi
  shift 2
done`;

const READ_LINKS = `cd -- "$1" 2>/dev/null || exit 0
printf '%s\\n' "$(readlink current 2>/dev/null)" "$(readlink previous 2>/dev/null)"`;

/** Reads where `current` and `previous` point. */
export async function readLinks(t: Transport, dir: string, options: RemoteOptions = {}): Promise<ReleaseLinks> {
  const r = await t.exec(['sh', '-c', READ_LINKS, 'sh', dir], { signal: options.signal });
  const [cur = '', prev = ''] = r.stdout.split('\n');
  return { current: idOfTarget(cur.trim()), previous: idOfTarget(prev.trim()) };
}

/**
 * Sets `current` and/or `previous` (undefined: leave as is; null: remove). Each link is
 * switched atomically; `current` first, since it is the one that serves.
 */
export async function setLinks(
  t: Transport,
  dir: string,
  links: { current?: string | null; previous?: string | null },
  options: RemoteOptions = {},
): Promise<void> {
  const args: string[] = [];
  for (const name of ['current', 'previous'] as const) {
    const v = links[name];
    if (v === undefined) continue;
    args.push(name, v === null ? '' : `${RELEASES_DIR}/${checkReleaseId(v)}`);
  }
  if (args.length) await t.exec(['sh', '-c', SET_LINKS, 'sh', dir, ...args], { signal: options.signal });
}

/** The links that make release `id` current, given the links `before`: the old current becomes previous. */
export function switchedLinks(before: ReleaseLinks, id: string): { current: string; previous?: string } {
  return before.current && before.current !== id ? { current: id, previous: before.current } : { current: id };
}

/** Points `current` at release `id` (and `previous` at the old current). Returns the links before. */
export async function switchCurrent(t: Transport, dir: string, id: string, options: RemoteOptions = {}): Promise<ReleaseLinks> {
  const before = await readLinks(t, dir, options);
  throwIfAborted(options.signal);
  // Not cancellable once started: a switch cut halfway would leave the links in between.
  await setLinks(t, dir, switchedLinks(before, id));
  return before;
}

// $1 dir, $2 how many link arguments follow (name, target pairs as SET_LINKS), then the command to
// run once the links are set (none: nothing). "@switched" on stdout marks that the links were set.
const SWITCH_THEN = `# phar-rollout:switch
d=$1; n=$2; shift 2
( cd -- "$d" || exit 1
  while [ "$n" -gt 1 ]; do
    if [ -z "$2" ]; then rm -f -- "$1" || exit 1; else { ln -sfn -- "$2" ".$1.tmp" && mv -T -- ".$1.tmp" "$1"; } || exit 1; fi
    shift 2; n=$((n - 2))
  done ) || { echo "switching the links in $d failed" >&2; exit 1; }
shift "$n"
echo '@switched'
[ $# -eq 0 ] || exec "$@"`;

/**
 * Points `current` at release `id` (and `previous` at `before.current`; `before` as read under the
 * lock), then runs `then` (an argument vector: the restart hook) in the same trip. Throws
 * OperationError (step "switch") when the links could not be set; otherwise returns the command's
 * result, failures included (its output without the marker). A throw of the transport itself
 * (cancel, lost connection) leaves it unknown whether the links changed: callers put them back.
 */
export async function switchCurrentThen(
  t: Transport,
  dir: string,
  id: string,
  before: ReleaseLinks,
  then: readonly string[],
  options: RemoteOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const links = switchedLinks(before, id);
  const args: string[] = ['current', `${RELEASES_DIR}/${checkReleaseId(links.current)}`];
  if (links.previous) args.push('previous', `${RELEASES_DIR}/${checkReleaseId(links.previous)}`);
  const r = await t.exec(['sh', '-c', SWITCH_THEN, 'sh', dir, String(args.length), ...args, ...then], {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    allowFailure: true,
  });
  if (!/^@switched\n/.test(r.stdout))
    throw new OperationError(`switching current to ${id} in ${dir} on ${t.host} failed: ${r.stderr.trim() || `exit ${r.code}`}`, {
      step: 'switch',
      host: t.host,
    });
  return { ...r, stdout: r.stdout.replace(/^@switched\n/, '') };
}

/**
 * Switches `current` back to `previous` (and `previous` to the old current, so a second call
 * rolls forward again). Refuses when there is no complete previous release. Returns the links before.
 * Callers hold the lock and run the restart hook (see rollbackToPrevious).
 */
export async function activatePrevious(
  t: Transport,
  dir: string,
  options: RemoteOptions = {},
): Promise<{ before: ReleaseLinks; release: ReleaseInfo }> {
  const before = await readLinks(t, dir, options);
  if (!before.previous) throw new OperationError(`no previous release in ${dir}`, { step: 'switch', host: t.host });
  const release = await readRelease(t, dir, before.previous, options);
  if (!release) throw new OperationError(`previous release ${before.previous} in ${dir} is incomplete`, { step: 'switch', host: t.host });
  await setLinks(t, dir, { current: before.previous, previous: before.current ?? null }); // not cancellable once started
  return { before, release };
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Why a parsed release.json does not have the shape a deploy writes (undefined when it does):
 * an object whose `id`, `version`, `commit`, `sha256` (64 hex), `phar` are strings, and the
 * optional text fields strings too. A server's file is foreign data: nothing else may read it unchecked.
 */
export function releaseShapeError(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return `it is ${kindOf(v)}, expected an object`;
  const o = v as Record<string, unknown>;
  for (const key of ['id', 'version', 'commit', 'sha256', 'phar'] as const) {
    if (typeof o[key] !== 'string') return `"${key}" is ${o[key] === undefined ? 'missing' : `${kindOf(o[key])}, expected a string`}`;
    if ((o[key] as string).length === 0 || (o[key] as string).length > 256) return `"${key}" is empty or longer than 256 characters`;
  }
  if (!/^[0-9a-fA-F]{64}$/.test(o.sha256 as string)) return '"sha256" is not 64 hex digits';
  for (const key of ['app', 'commitTime', 'builder', 'inputsHash', 'builtAt', 'deployedAt', 'deployedBy'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') return `"${key}" is ${kindOf(o[key])}, expected a string`;
  }
  if (o.size !== undefined && typeof o.size !== 'number') return `"size" is ${kindOf(o.size)}, expected a number`;
  return undefined;
}

/** Parses release.json text; throws OperationError "…unreadable: <why>" on bad JSON or a bad shape. */
export function parseReleaseJson(text: string, where: string): ReleaseInfo {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new OperationError(`${where} is unreadable: not valid JSON`, { step: 'read', file: where });
  }
  const why = releaseShapeError(v);
  if (why) throw new OperationError(`${where} is unreadable: ${why}`, { step: 'read', file: where });
  return v as ReleaseInfo;
}

async function readJson(t: Transport, file: string, options: RemoteOptions): Promise<ReleaseInfo | undefined> {
  const r = await t.exec(['cat', '--', file], { signal: options.signal, allowFailure: true });
  if (r.code !== 0) return undefined;
  return parseReleaseJson(r.stdout, `${file} on ${t.host}`);
}

/** release.json of one release, or undefined when it has none (incomplete). */
export function readRelease(t: Transport, dir: string, id: string, options: RemoteOptions = {}): Promise<ReleaseInfo | undefined> {
  return readJson(t, join(dir, RELEASES_DIR, checkReleaseId(id), RELEASE_JSON), options);
}

/** `current/release.json`: what the backend has deployed, or undefined when nothing is. */
export function readCurrentRelease(t: Transport, dir: string, options: RemoteOptions = {}): Promise<ReleaseInfo | undefined> {
  return readJson(t, join(dir, 'current', RELEASE_JSON), options);
}

const LIST = `cd -- "$1" 2>/dev/null || exit 0
printf 'current %s\\n' "$(readlink current 2>/dev/null)"
printf 'previous %s\\n' "$(readlink previous 2>/dev/null)"
for d in releases/*; do
  [ -d "$d" ] || continue
  printf 'release %s\\n' "\${d#releases/}"
  if [ -f "$d/release.json" ]; then printf 'json '; tr -d '\\n\\r' < "$d/release.json"; printf '\\n'; fi
done`;

/** Every release on the backend, newest deployment first (incomplete ones last), with the links. */
export async function listReleases(
  t: Transport,
  dir: string,
  options: RemoteOptions = {},
): Promise<{ links: ReleaseLinks; releases: ReleaseEntry[] }> {
  const r = await t.exec(['sh', '-c', LIST, 'sh', dir], { signal: options.signal });
  return parseListing(r.stdout);
}

/** Reads LIST's answer (the links, then each release and its release.json), newest first. */
function parseListing(stdout: string): { links: ReleaseLinks; releases: ReleaseEntry[] } {
  const links: ReleaseLinks = {};
  const releases: ReleaseEntry[] = [];
  for (const line of stdout.split('\n')) {
    const sp = line.indexOf(' ');
    const [kind, rest] = sp < 0 ? [line, ''] : [line.slice(0, sp), line.slice(sp + 1)];
    if (kind === 'current') links.current = idOfTarget(rest.trim());
    else if (kind === 'previous') links.previous = idOfTarget(rest.trim());
    else if (kind === 'release') releases.push({ id: rest, current: false, previous: false });
    else if (kind === 'json' && releases.length) {
      try {
        releases[releases.length - 1].release = parseReleaseJson(rest, 'release.json');
      } catch {
        // An unreadable release.json (bad JSON or shape) counts as incomplete.
      }
    }
  }
  for (const e of releases) {
    e.current = e.id === links.current;
    e.previous = e.id === links.previous;
  }
  const time = (e: ReleaseEntry) => (e.release ? Date.parse(e.release.deployedAt) || 0 : -1);
  releases.sort((a, b) => time(b) - time(a) || b.id.localeCompare(a.id));
  return { links, releases };
}

/**
 * Removes old releases: keeps the newest `keep` complete ones and always `current` and `previous`.
 * Incomplete releases (no release.json) go too; call it with the lock held. Returns the removed ids.
 */
export async function pruneReleases(t: Transport, dir: string, keep: number, options: RemoteOptions = {}): Promise<string[]> {
  const { releases } = await listReleases(t, dir, options);
  const remove = prunable(releases, keep);
  if (remove.length) await t.exec(['rm', '-rf', '--', ...remove.map((id) => join(dir, RELEASES_DIR, id))], { signal: options.signal });
  return remove;
}

/**
 * What pruneReleases removes, from `releases` as they were read under the lock with `links` the
 * links now (the release just made current included): the same rule, no trip. The script to run
 * removes those ids (with the unlock, see HeldLock.releaseAfter).
 */
export function prunePlan(
  releases: readonly ReleaseEntry[],
  links: ReleaseLinks,
  keep: number,
  dir: string,
): { ids: string[]; script: HostScript } {
  const now = releases.map((e) => ({ ...e, current: e.id === links.current, previous: e.id === links.previous }));
  if (links.current && !now.some((e) => e.id === links.current)) now.unshift({ id: links.current, current: true, previous: false });
  const ids = prunable(now, keep);
  return { ids, script: { text: 'rm -rf -- "$@"', args: ids.map((id) => join(dir, RELEASES_DIR, id)) } };
}

function prunable(releases: readonly ReleaseEntry[], keep: number): string[] {
  let kept = 0;
  const remove: string[] = [];
  for (const e of releases) {
    if (e.current || e.previous) {
      kept++;
      continue;
    }
    if (!ID_RE.test(e.id) || e.id.includes('..')) continue; // not ours: leave it alone
    if (e.release && kept < keep) {
      kept++;
      continue;
    }
    remove.push(e.id);
  }
  return remove;
}

/** Removes one release unless `current` or `previous` points at it (then only a leftover .part). */
export async function discardRelease(t: Transport, dir: string, id: string, phar: string, options: RemoteOptions = {}): Promise<void> {
  const links = await readLinks(t, dir, options);
  const path = join(dir, RELEASES_DIR, checkReleaseId(id));
  if (links.current === id || links.previous === id) await t.exec(['rm', '-f', '--', join(path, `${phar}.part`)], options);
  else await t.exec(['rm', '-rf', '--', path], options);
}

export interface LockOptions extends RemoteOptions {
  /** What the holder is doing ("deploy <id>"), shown to whoever finds the lock. */
  operation: string;
  /** A remote holder without a heartbeat for this long is stale (see hostLock's judge). */
  staleMs?: number;
  /** Who holds it; default user@hostname. */
  owner?: string;
}

/** user@hostname of this process, for lock owners and release.json. */
export function localIdentity(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${os.hostname()}`;
}

/** The deploy lock of one backend: `<dir>/.rollout.lock` on the backend's host. */
function backendLock(t: Transport, dir: string): LockSite {
  const lockDir = join(dir, LOCK_DIR);
  return {
    files: hostFilesOn(t),
    dir: lockDir,
    where: `${t.host}:${lockDir}`,
    subject: `${dir} on ${t.host}`,
    hint: `wait for it, or remove ${lockDir} if no deploy is running`,
    makeParent: true,
  };
}

/**
 * Takes `<dir>/.rollout.lock` (the backend dir is created when missing), the same lock as the
 * rollout's (core/exec/hostLock): one owner shape, one stale policy, a heartbeat while held.
 * Throws LockedError (step "lock") naming the holder.
 */
export function acquireLock(t: Transport, dir: string, options: LockOptions & { then?: HostScript }): Promise<HeldLock> {
  return acquireHostLock(backendLock(t, dir), {
    operation: options.operation,
    user: options.owner ?? localIdentity(),
    staleMs: options.staleMs,
    signal: options.signal,
    then: options.then,
  });
}

// $1 release dir, $2 backend dir, $3 phar: prints current's and previous's targets, sha256sum of
// $3 (if any), then "@list" and the listing (LIST) for pruning.
const PREPARE = `# phar-rollout:prepare
mkdir -p -- "$1" || exit 1
printf '%s\\n' "$(readlink -- "$2/current" 2>/dev/null)" "$(readlink -- "$2/previous" 2>/dev/null)"
sha256sum -- "$3" 2>/dev/null
echo '@list'
${LIST.replace('"$1"', '"$2"')}`;

// Stdin to $1 (.part), then its sha256 must be $3 (else exit 12, the sum printed), mv to $2, and
// release.json ($4) written from $5 last: the marker of a complete release. Exit 10 upload, 11 verify, 13 record.
const PUT = `# phar-rollout:put
cat > "$1" || exit 10
s=$(sha256sum -- "$1") || exit 11
printf '%s\\n' "$s"
case "$s" in "$3 "*) ;; *) exit 12;; esac
mv -f -- "$1" "$2" || exit 11
{ printf '%s\\n' "$5" > "$4.tmp" && mv -f -- "$4.tmp" "$4"; } || exit 13`;

function parseSha(stdout: string): string | undefined {
  return /^\\?([0-9a-f]{64})\s/.exec(stdout)?.[1];
}

/** Steps of placing a release, reported as they start. */
export type PlaceStep = 'upload' | 'verify' | 'record';

export interface PlaceOptions extends RemoteOptions {
  deployedBy?: string;
  /** PREPARE's answer when it already ran in the lock's trip (see prepareScript). */
  prepared?: ScriptResult;
  onStep?: (step: PlaceStep) => void;
  onBytes?: (bytes: number, total: number) => void;
}

/**
 * Puts an artifact on a backend as a complete release: upload to `<app>.phar.part`, check its
 * sha256 on the server, rename it to `<app>.phar`, then write release.json (the marker of a
 * complete release). A release already there with the right sha256 is not uploaded again.
 * Throws OperationError with step "upload" / "verify" / "record"; never touches `current`.
 */
export async function placeRelease(
  t: Transport,
  dir: string,
  artifact: Artifact,
  options: PlaceOptions = {},
): Promise<{ uploaded: boolean; release: ReleaseInfo; links: ReleaseLinks; releases: ReleaseEntry[] }> {
  const id = checkReleaseId(artifact.id);
  if (!PHAR_RE.test(artifact.phar))
    throw new OperationError(`"${artifact.phar}" is not a valid phar file name`, { step: 'upload', host: t.host });
  const relDir = join(dir, RELEASES_DIR, id);
  const phar = join(relDir, artifact.phar);
  const part = `${phar}.part`;
  const expected = artifact.sha256.toLowerCase();
  const opts = { signal: options.signal };

  options.onStep?.('upload');
  // One trip: make the release dir, read the links (unchanged until we switch: we hold the lock)
  // and the sha256 of a phar already there.
  let prepared = options.prepared;
  try {
    prepared ??= await t.exec(['sh', '-c', PREPARE, 'sh', relDir, dir, phar], { ...opts, allowFailure: true });
  } catch (err) {
    throw stepError(err, 'upload', t.host);
  }
  if (prepared.code !== 0)
    throw new OperationError(`making ${relDir} on ${t.host} failed: ${prepared.stderr.trim() || `exit ${prepared.code}`}`, {
      step: 'upload',
      host: t.host,
    });
  const at = prepared.stdout.indexOf('\n@list\n');
  const [cur = '', prev = '', ...shaLines] = (at < 0 ? prepared.stdout : prepared.stdout.slice(0, at)).split('\n');
  const links: ReleaseLinks = { current: idOfTarget(cur.trim()), previous: idOfTarget(prev.trim()) };
  const { releases } = parseListing(at < 0 ? '' : prepared.stdout.slice(at + '\n@list\n'.length));
  const uploaded = parseSha(shaLines.join('\n')) !== expected;
  const release: ReleaseInfo = {
    ...manifestOf(artifact),
    deployedAt: new Date().toISOString(),
    deployedBy: options.deployedBy ?? localIdentity(),
  };
  const file = join(relDir, RELEASE_JSON);
  const json = JSON.stringify(release);
  if (uploaded) {
    // One trip: stream into .part, check its sha256 on the server, rename, write release.json.
    let verifying = false;
    const r = await t
      .upload(artifact.pharPath, part, {
        ...opts,
        script: { text: PUT, args: [phar, expected, file, json] },
        onProgress: (b) => {
          options.onBytes?.(b, artifact.size);
          if (b >= artifact.size && !verifying) {
            verifying = true;
            options.onStep?.('verify');
          }
        },
      })
      .catch((err) => {
        throw stepError(err, 'upload', t.host);
      });
    if (r && r.code !== 0) {
      const why = r.stderr.trim() || `exit ${r.code}`;
      if (r.code === 12) {
        throw new OperationError(`sha256 of the uploaded ${artifact.phar} is ${parseSha(r.stdout) ?? 'unreadable'}, expected ${expected}`, {
          step: 'verify',
          host: t.host,
        });
      }
      if (r.code === 11) throw new OperationError(`checking ${part} on ${t.host} failed: ${why}`, { step: 'verify', host: t.host });
      if (r.code === 13) throw new OperationError(`writing ${file} on ${t.host} failed: ${why}`, { step: 'record', host: t.host });
      throw new OperationError(`writing ${part} on ${t.host} failed: ${why}`, { step: 'upload', host: t.host });
    }
    throwIfAborted(options.signal);
    options.onStep?.('record');
  } else {
    throwIfAborted(options.signal);
    options.onStep?.('record');
    try {
      await t.exec(['sh', '-c', 'printf \'%s\\n\' "$2" > "$1.tmp" && mv -f -- "$1.tmp" "$1"', 'sh', file, json], opts);
    } catch (err) {
      throw stepError(err, 'record', t.host);
    }
  }
  return { uploaded, release, links, releases };
}

/**
 * The first step of placeRelease as a script, to run in the lock's trip (acquireLock's `then`),
 * then given to placeRelease as `prepared`. Undefined for an id or phar name placeRelease refuses.
 */
export function prepareScript(dir: string, artifact: Artifact): HostScript | undefined {
  if (!ID_RE.test(artifact.id) || artifact.id.includes('..') || !PHAR_RE.test(artifact.phar)) return undefined;
  const relDir = join(dir, RELEASES_DIR, artifact.id);
  return { text: PREPARE, args: [relDir, dir, join(relDir, artifact.phar)] };
}

/** The manifest of an artifact: every field but where it lives on this machine. */
export function manifestOf(a: Artifact | ArtifactManifest): ArtifactManifest {
  const { dir: _dir, pharPath: _pharPath, ...manifest } = a as Artifact;
  return manifest;
}

function stepError(err: unknown, step: PlaceStep, host: string): unknown {
  if (err instanceof OperationError && err.step === step) return err;
  if (err instanceof Error && err.name === 'CancelledError') return err;
  return new OperationError((err as Error).message ?? String(err), { step, host, cause: err });
}
