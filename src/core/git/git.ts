import * as path from 'node:path';
import { run } from '../exec/process';

/** Options shared by every git call: cancellation. */
export interface GitOptions {
  signal?: AbortSignal;
}

async function git(dir: string, args: string[], options: GitOptions = {}): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  // LC_ALL=C: messages we may show are stable; GIT_OPTIONAL_LOCKS=0: reading never takes index.lock
  // (a build must not collide with the user's own git in the same tree).
  const result = await run('git', args, {
    cwd: dir,
    signal: options.signal,
    allowFailure: true,
    env: { LC_ALL: 'C', GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' },
  });
  return { ok: result.code === 0, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

async function gitOrThrow(dir: string, args: string[], options: GitOptions = {}): Promise<string> {
  const result = await run('git', args, {
    cwd: dir,
    signal: options.signal,
    env: { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' },
  });
  return result.stdout.trim();
}

/** True when `dir` is inside a git work tree. */
export async function isRepo(dir: string, options?: GitOptions): Promise<boolean> {
  const r = await git(dir, ['rev-parse', '--is-inside-work-tree'], options);
  return r.ok && r.stdout === 'true';
}

/** Full hash of HEAD, or undefined (not a repository, or no commit yet). */
export async function headCommit(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], options);
  return r.ok && /^[0-9a-f]{40,64}$/.test(r.stdout) ? r.stdout : undefined;
}

/** Committer time of `ref` (default HEAD) as an ISO string in UTC, or undefined. */
export async function commitTime(dir: string, ref = 'HEAD', options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['log', '-1', '--format=%ct', ref, '--'], options);
  const seconds = Number(r.stdout);
  return r.ok && r.stdout !== '' && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

/** `git describe --tags` of HEAD: "1.2.0" on a tag, "1.2.0-2-gabc1234" after it; undefined without a tag. */
export async function describeTags(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['describe', '--tags', 'HEAD'], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** The most recent tag reachable from HEAD, or undefined. */
export async function latestTag(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['describe', '--tags', '--abbrev=0', 'HEAD'], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** The tag pointing exactly at HEAD, or undefined. */
export async function exactTag(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['describe', '--tags', '--exact-match', 'HEAD'], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/**
 * True when the work tree under `dir` differs from HEAD (modified, staged or untracked files),
 * ignoring what a build itself writes: `.rollout/`, `vendor/` and the `exclude` paths (relative to `dir`).
 */
export async function isDirty(dir: string, options?: GitOptions & { exclude?: string[] }): Promise<boolean> {
  const r = await git(dir, ['status', '--porcelain', '--untracked-files=normal', ...dirtyPathspec(options?.exclude)], options);
  return r.ok && r.stdout !== '';
}

/** git's user.email (the history's `user`), or undefined when not configured. */
export async function userEmail(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['config', 'user.email'], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** Folder of `dir` relative to the top of its work tree ("" at the top). */
export async function prefixInRepo(dir: string, options?: GitOptions): Promise<string> {
  const r = await git(dir, ['rev-parse', '--show-prefix'], options);
  return r.ok ? r.stdout.replace(/\/$/, '') : '';
}

/** Top folder of the work tree holding `dir`. */
export async function repoRoot(dir: string, options?: GitOptions): Promise<string | undefined> {
  const r = await git(dir, ['rev-parse', '--show-toplevel'], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** Resolves a ref (tag, branch, hash) to a full commit hash, or undefined. */
export async function resolveCommit(dir: string, ref: string, options?: GitOptions): Promise<string | undefined> {
  if (ref.startsWith('-')) return undefined; // never let a ref be read as an option
  const r = await git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], options);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** Tags of the repository, newest commit first. */
export async function listTags(dir: string, options?: GitOptions): Promise<string[]> {
  const r = await git(dir, ['tag', '--list', '--sort=-creatordate'], options);
  return r.ok && r.stdout ? r.stdout.split('\n') : [];
}

/** Everything a build records about the source, read in one go. */
export interface GitInfo {
  isRepo: boolean;
  /** Full hash of HEAD; undefined outside git or before the first commit. */
  commit?: string;
  shortCommit?: string;
  /** ISO (UTC) committer time of HEAD. */
  commitTime?: string;
  /** `git describe --tags` of HEAD. */
  describe?: string;
  /** Most recent tag reachable from HEAD. */
  latestTag?: string;
  /** Tag exactly at HEAD. */
  exactTag?: string;
  dirty: boolean;
}

/** Paths that never make the tree dirty: what a build itself writes, and the caller's `exclude` (relative to `dir`). */
function dirtyPathspec(exclude: string[] = []): string[] {
  return ['--', '.', ...['.rollout', 'vendor', ...exclude].map((p) => `:(exclude,literal)${p}`)];
}

/** What `git status --porcelain=v2 --branch` says: HEAD's commit (undefined before the first one) and any change. */
export function parseStatusV2(stdout: string): { commit?: string; dirty: boolean } {
  let commit: string | undefined;
  let dirty = false;
  for (const line of stdout.split('\n')) {
    const oid = /^# branch\.oid ([0-9a-f]{40,64})$/.exec(line);
    if (oid) commit = oid[1];
    else if (line !== '' && !line.startsWith('# ')) dirty = true;
  }
  return { commit, dirty };
}

/**
 * The tag fields from `%(describe:tags)` and `%(describe:tags,abbrev=0)` of one commit: `describe` is the latest tag
 * plus "-<n>-g<hash>" unless the tag is at the commit itself, so the two are equal exactly when there is an exact tag.
 */
export function tagFields(describe: string, latest: string): Pick<GitInfo, 'describe' | 'latestTag' | 'exactTag'> {
  return {
    describe: describe || undefined,
    latestTag: latest || undefined,
    exactTag: describe && describe === latest ? describe : undefined,
  };
}

/**
 * Reads commit, time, tags and dirty state of the work tree holding `dir` with two git processes, run together
 * (each spawn costs the up-to-date check more than git's own work): `status --porcelain=v2 --branch` answers
 * "a repository?", HEAD and "dirty"; one `log -1` format string answers the time and the tags (git 2.35+ fills
 * `%(describe:tags)` itself; an older git prints the placeholder back and the tags are read with describe).
 * `exclude` lists more paths (relative to `dir`) that do not make it dirty, such as box's output.
 */
export async function readGitInfo(dir: string, options?: GitOptions & { exclude?: string[] }): Promise<GitInfo> {
  const [status, log] = await Promise.all([
    // --untracked-files=normal: a user's status.showUntrackedFiles=no must not hide a new file from the build.
    git(
      dir,
      ['status', '--porcelain=v2', '--branch', '--no-ahead-behind', '--untracked-files=normal', ...dirtyPathspec(options?.exclude)],
      options,
    ),
    git(
      dir,
      ['log', '-1', '--no-show-signature', '--format=%ct%x00%(describe:tags=true)%x00%(describe:tags=true,abbrev=0)', 'HEAD', '--'],
      options,
    ),
  ]);
  // Outside a work tree (or inside .git) status fails.
  if (!status.ok) return { isRepo: false, dirty: false };
  const { commit, dirty } = parseStatusV2(status.stdout);
  if (!commit) return { isRepo: true, dirty };
  const [seconds, describe = '', latest = ''] = log.ok ? log.stdout.split('\0') : [];
  const tags = describe.startsWith('%(describe')
    ? await Promise.all([describeTags(dir, options), latestTag(dir, options)]).then(([d, l]) => tagFields(d ?? '', l ?? ''))
    : tagFields(describe, latest);
  const time = Number(seconds);
  return {
    isRepo: true,
    commit,
    shortCommit: commit.slice(0, 7),
    commitTime: seconds && Number.isFinite(time) ? new Date(time * 1000).toISOString() : undefined,
    ...tags,
    dirty,
  };
}

/**
 * Checks `ref` out, detached, into a new worktree at `targetDir` (which must not exist).
 * The user's own working tree and index are not touched: a rebuild of an old tag happens there.
 */
export async function addWorktree(repoDir: string, ref: string, targetDir: string, options?: GitOptions): Promise<void> {
  const commit = await resolveCommit(repoDir, ref, options);
  if (!commit) throw new Error(`git: "${ref}" is not a commit, tag or branch of ${repoDir}`);
  await gitOrThrow(repoDir, ['worktree', 'add', '--detach', '--', path.resolve(targetDir), commit], options);
}

/** Removes a worktree made by addWorktree (with its files) and prunes git's record of it. */
export async function removeWorktree(repoDir: string, targetDir: string, options?: GitOptions): Promise<void> {
  await git(repoDir, ['worktree', 'remove', '--force', '--force', path.resolve(targetDir)], options);
  await git(repoDir, ['worktree', 'prune'], options);
}
