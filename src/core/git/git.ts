import * as path from 'node:path';
import { simpleGit } from 'simple-git';
import { CancelledError, OperationError } from '../errors';

/** Options shared by every git call: cancellation. */
export interface GitOptions {
  signal?: AbortSignal;
}

// LC_ALL=C: messages we may show are stable; GIT_OPTIONAL_LOCKS=0: reading never takes index.lock
// (a build must not collide with the user's own git in the same tree); GIT_TERMINAL_PROMPT=0: never ask.
const GIT_ENV = { LC_ALL: 'C', GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' };

/**
 * Interactive and network settings that our local, read-mostly commands never use (editor, pager,
 * prompts, ssh, proxies, external diff): left out of git's environment, where simple-git's guard
 * would otherwise refuse to run at all when the user's shell exports, say, EDITOR.
 */
const UNUSED_ENV =
  /^(editor|visual|pager|git_pager|git_editor|git_sequence_editor|git_askpass|ssh_askpass|git_external_diff|git_ssh|git_ssh_command|git_proxy_command)$/i;

/** The user's environment (as a plain spawn would pass it) with ours on top. */
function gitEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...GIT_ENV })) if (v !== undefined && !UNUSED_ENV.test(k)) env[k] = v;
  return env;
}

/**
 * Runs `git <args>` in `dir` through simple-git and returns its trimmed stdout; any non-zero exit
 * rejects (simple-git alone lets a failure without stderr through). The user's own git setup in
 * the environment (GIT_CONFIG_GLOBAL, GIT_CONFIG_COUNT…) is kept as with a plain spawn: the
 * environment is the user's and every argument is ours.
 */
async function gitOrThrow(dir: string, args: string[], options: GitOptions = {}): Promise<string> {
  const env = gitEnv();
  try {
    const git = simpleGit({
      baseDir: dir,
      abort: options.signal,
      allowEnvironment: Object.keys(env),
      unsafe: { allowUnsafeConfigPaths: true, allowUnsafeConfigEnvCount: true, allowUnsafeExec: true, allowUnsafeTemplateDir: true },
      errors: (error, result) =>
        error ?? (result.exitCode !== 0 ? Buffer.from(`git ${args[0]} exited with ${result.exitCode}`) : undefined),
    }).env(env);
    return (await git.raw(args)).trim();
  } catch (err) {
    if (options.signal?.aborted) throw new CancelledError();
    const message = (err as Error).message;
    if (/spawn \S+ ENOENT/.test(message)) {
      throw new OperationError('Cannot start git (is git installed and on PATH?)', { step: 'spawn', command: 'git', cause: err });
    }
    throw new OperationError(`git ${args[0]} failed in ${dir}: ${message.trim()}`, { step: 'git', file: dir, cause: err });
  }
}

/** Like gitOrThrow, but a failing command (not a missing git, not a cancel) reads as undefined. */
async function git(dir: string, args: string[], options: GitOptions = {}): Promise<string | undefined> {
  try {
    return await gitOrThrow(dir, args, options);
  } catch (err) {
    if (err instanceof OperationError && err.step === 'git') return undefined;
    throw err;
  }
}

/** True when `dir` is inside a git work tree. */
export async function isRepo(dir: string, options?: GitOptions): Promise<boolean> {
  return (await git(dir, ['rev-parse', '--is-inside-work-tree'], options)) === 'true';
}

/** Full hash of HEAD, or undefined (not a repository, or no commit yet). */
export async function headCommit(dir: string, options?: GitOptions): Promise<string | undefined> {
  const out = await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], options);
  return out && /^[0-9a-f]{40,64}$/.test(out) ? out : undefined;
}

/** Committer time of `ref` (default HEAD) as an ISO string in UTC, or undefined. */
export async function commitTime(dir: string, ref = 'HEAD', options?: GitOptions): Promise<string | undefined> {
  const out = await git(dir, ['log', '-1', '--format=%ct', ref, '--'], options);
  const seconds = Number(out);
  return out && Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : undefined;
}

/** `git describe --tags` of HEAD: "1.2.0" on a tag, "1.2.0-2-gabc1234" after it; undefined without a tag. */
export async function describeTags(dir: string, options?: GitOptions): Promise<string | undefined> {
  return (await git(dir, ['describe', '--tags', 'HEAD'], options)) || undefined;
}

/** The most recent tag reachable from HEAD, or undefined. */
export async function latestTag(dir: string, options?: GitOptions): Promise<string | undefined> {
  return (await git(dir, ['describe', '--tags', '--abbrev=0', 'HEAD'], options)) || undefined;
}

/** The tag pointing exactly at HEAD, or undefined. */
export async function exactTag(dir: string, options?: GitOptions): Promise<string | undefined> {
  return (await git(dir, ['describe', '--tags', '--exact-match', 'HEAD'], options)) || undefined;
}

/**
 * True when the work tree under `dir` differs from HEAD (modified, staged or untracked files),
 * ignoring what a build itself writes: `.rollout/`, `vendor/` and the `exclude` paths (relative to `dir`).
 */
export async function isDirty(dir: string, options?: GitOptions & { exclude?: string[] }): Promise<boolean> {
  const out = await git(dir, ['status', '--porcelain', '--untracked-files=normal', ...dirtyPathspec(options?.exclude)], options);
  return out !== undefined && out !== '';
}

/** git's user.email (the history's `user`), or undefined when not configured. */
export async function userEmail(dir: string, options?: GitOptions): Promise<string | undefined> {
  return (await git(dir, ['config', 'user.email'], options)) || undefined;
}

/** Folder of `dir` relative to the top of its work tree ("" at the top). */
export async function prefixInRepo(dir: string, options?: GitOptions): Promise<string> {
  return ((await git(dir, ['rev-parse', '--show-prefix'], options)) ?? '').replace(/\/$/, '');
}

/** Top folder of the work tree holding `dir`. */
export async function repoRoot(dir: string, options?: GitOptions): Promise<string | undefined> {
  return (await git(dir, ['rev-parse', '--show-toplevel'], options)) || undefined;
}

/** Resolves a ref (tag, branch, hash) to a full commit hash, or undefined. */
export async function resolveCommit(dir: string, ref: string, options?: GitOptions): Promise<string | undefined> {
  if (ref.startsWith('-')) return undefined; // never let a ref be read as an option
  return (await git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], options)) || undefined;
}

/** Tags of the repository, newest commit first. */
export async function listTags(dir: string, options?: GitOptions): Promise<string[]> {
  const out = await git(dir, ['tag', '--list', '--sort=-creatordate'], options);
  return out ? out.split('\n') : [];
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
  if (status === undefined) return { isRepo: false, dirty: false };
  const { commit, dirty } = parseStatusV2(status);
  if (!commit) return { isRepo: true, dirty };
  const [seconds, describe = '', latest = ''] = log?.split('\0') ?? [];
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

/** A tag or local branch, as the rebuild picker lists it. */
export interface GitRef {
  kind: 'tag' | 'branch';
  /** Short name ("v1.2.0", "main"): what `addWorktree` and `resolveCommit` take. */
  name: string;
  /** Short hash of the commit it points at (an annotated tag's target, not the tag object). */
  commit: string;
  /** ISO time (UTC): a tag's creation (tagger date, or the commit's for a lightweight tag), a branch's last commit. */
  date?: string;
  /** First line of the tag message (annotated) or of the commit message. */
  subject: string;
}

// One line per ref, fields NUL-separated; `%(*…)` is the annotated tag's target (empty otherwise).
const REF_FORMAT =
  '%(refname)%00%(if)%(*objectname)%(then)%(*objectname:short)%(else)%(objectname:short)%(end)%00%(creatordate:unix)%00%(subject)';

/** Parses `git for-each-ref --format=REF_FORMAT` output (see listRefs); lines of another shape are skipped. */
export function parseRefs(stdout: string): GitRef[] {
  const refs: GitRef[] = [];
  for (const line of stdout.split('\n')) {
    const [full, commit, seconds, subject = ''] = line.split('\0');
    const m = /^refs\/(tags|heads)\/(.+)$/.exec(full ?? '');
    if (!m || !commit) continue;
    const time = Number(seconds);
    refs.push({
      kind: m[1] === 'tags' ? 'tag' : 'branch',
      name: m[2],
      commit,
      date: seconds && Number.isFinite(time) ? new Date(time * 1000).toISOString() : undefined,
      subject,
    });
  }
  return refs;
}

/** Tags, then local branches, each newest first, with the date and subject a person picks a rebuild by. */
export async function listRefs(dir: string, options?: GitOptions): Promise<GitRef[]> {
  const out = await git(dir, ['for-each-ref', '--sort=-creatordate', `--format=${REF_FORMAT}`, 'refs/tags', 'refs/heads'], options);
  const refs = parseRefs(out ?? '');
  return [...refs.filter((r) => r.kind === 'tag'), ...refs.filter((r) => r.kind === 'branch')];
}
