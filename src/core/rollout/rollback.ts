import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deployArtifact, rollbackToPrevious } from '../backends/deployBackends';
import type { BackendResult } from '../backends/deployBackends';
import type { Artifact } from '../phar/artifact';
import { artifactsDir, getArtifact } from '../phar/artifactStore';
import { buildProject } from '../phar/pharBuild';
import type { Group, RolloutConfig } from '../config/rolloutConfig';
import { InputError, OperationError, describeError, emptyGroupError, noLoadBalancerError, throwIfAborted } from '../errors';
import { addWorktree, prefixInRepo, removeWorktree, repoRoot, resolveCommit } from '../git/git';
import { backendOptions, withContext, withLock } from './context';
import { readLinks, readRelease } from '../backends/releases';
import type { OpContext, RolloutOptions } from './context';
import { startHistory } from './history';
import type { StartedEvent } from './history';
import { failureSummary } from './promote';
import { endRollout, groupReleases, setSplitRecorded } from './shared';
import type { RolloutState } from './types';
import { recoveredField } from './recovery';
import type { Recovered } from './recovery';

export type RollbackSpeed = 'traffic' | 'release' | 'rebuild';

export interface RollbackRequest {
  /** traffic: split 0 % now (one reload); release: `current` back to the previous release; rebuild: build `ref` and deploy it. */
  speed: RollbackSpeed;
  /** Git ref (tag, branch, commit) for a rebuild. */
  ref?: string;
  /** Backends to roll back for release/rebuild (default canary). */
  group?: Group;
}

export interface RollbackOptions extends RolloutOptions {
  /** php/compile.php, for a rebuild with the built-in compiler. */
  compilerScript?: string;
  /** The pharRollout.boxPath setting, for a rebuild with box. */
  boxPath?: string;
}

export interface RollbackResult {
  /** False when a backend failed (release, rebuild): `results` says which; the rollout goes on. */
  ok: boolean;
  speed: RollbackSpeed;
  /** Split before a traffic rollback (first LB). */
  splitBefore?: number;
  /** Per backend, for release and rebuild. */
  results?: BackendResult[];
  /** Release ids per backend before and after (release, rebuild). */
  releasesBefore?: Record<string, string | null>;
  releasesAfter?: Record<string, string | null>;
  /** The artifact a rebuild made and deployed. */
  artifact?: Pick<Artifact, 'id' | 'version' | 'commit'>;
  state?: RolloutState;
  /** Interrupted changes recovered (and recorded) before the rollback. */
  recovered?: Recovered[];
}

/**
 * Rolls back at one of three speeds, holding the rollout lock:
 * - traffic: the split goes to 0 % on every LB at once (one test + reload each);
 * - release: every backend of the group (default canary) switches `current` back to its previous
 *   release, runs its restart hook and is probed until it serves it;
 * - rebuild: `ref` is checked out in a separate git worktree in a temp folder (the user's working
 *   tree and index are never touched), built there, stored in the project's artifact store and
 *   deployed to the group.
 * For release and rebuild every backend's outcome is returned; `ok` is false when any failed.
 */
export async function rollback(config: RolloutConfig, request: RollbackRequest, options: RollbackOptions = {}): Promise<RollbackResult> {
  if (request.speed === 'rebuild' && !request.ref)
    throw new InputError('A rebuild rollback needs a git ref', { hint: 'Give a tag, branch or commit, e.g. --rebuild v1.2.0.' });
  if (request.speed === 'traffic' && config.loadBalancers.length === 0) throw noLoadBalancerError();
  const label = request.speed === 'rebuild' ? `rollback: rebuild ${request.ref}` : `rollback: ${request.speed}`;
  // Recovery is best effort here: nothing may stand between the user and a traffic rollback.
  return withLock(config, label, options, (ctx, _lock, recovered) => rollbackBody(config, request, options, ctx, recovered), 'bestEffort');
}

async function rollbackBody(
  config: RolloutConfig,
  request: RollbackRequest,
  options: RollbackOptions,
  ctx: OpContext,
  recovered: Recovered[],
): Promise<RollbackResult> {
  if (request.speed === 'traffic') {
    ctx.progress('setting the split to 0 %');
    const applied = await setSplitRecorded(config, ctx, 0, 'rollback');
    const state = await endRollout(config.projectDir, ctx, 'rollback', { message: `rolled back to 0 % by ${ctx.user}` });
    return { ok: true, speed: 'traffic', splitBefore: applied[0]?.before?.split, state, ...recoveredField(recovered) };
  }
  const group = request.group ?? 'canary';
  const backends = config.backends.filter((b) => b.group === group);
  if (backends.length === 0) throw emptyGroupError(group, 'Choose a group that has backends.');
  const releasesBefore = await groupReleases(config, ctx, backends);
  let results: BackendResult[];
  let done: StartedEvent['done'];
  let artifact: Artifact | undefined;
  const action = `rollback-${request.speed}`;
  if (request.speed === 'release') {
    const started = await startHistory(ctx.store, {
      user: ctx.user,
      action,
      target: group,
      before: { releases: releasesBefore },
    });
    done = started.done;
    ctx.progress(`switching ${backends.length} ${group} backend(s) to their previous release`);
    ({ results } = await rollbackToPrevious({
      config,
      backends,
      ...backendOptions(ctx),
    }));
  } else {
    artifact = await rebuildInWorktree(config, ctx, request.ref!, options);
    const started = await startHistory(ctx.store, {
      user: ctx.user,
      action,
      target: group,
      before: { releases: releasesBefore },
      after: { ref: request.ref, artifact: artifact.id },
    });
    done = started.done;
    ctx.progress(`deploying ${artifact.id} to ${backends.length} ${group} backend(s)`);
    ({ results } = await deployArtifact({
      config,
      backends,
      artifact,
      ...backendOptions(ctx),
    }));
  }
  const releasesAfter = await groupReleases(config, ctx, backends);
  const ok = results.every((r) => r.ok);
  await done({
    after: { releases: releasesAfter, ...(artifact ? { ref: request.ref, artifact: artifact.id } : {}) },
    result: ok ? 'ok' : `failed: ${failureSummary(results)}`,
  });
  const state =
    ok && group === 'canary'
      ? await endRollout(config.projectDir, ctx, 'rollback', { message: `canary rolled back (${request.speed}) by ${ctx.user}` })
      : undefined;
  return {
    ok,
    speed: request.speed,
    results,
    releasesBefore,
    releasesAfter,
    artifact: artifact ? { id: artifact.id, version: artifact.version, commit: artifact.commit } : undefined,
    state,
    ...recoveredField(recovered),
  };
}

/**
 * Builds `ref` in a git worktree under a fresh temp folder and copies the artifact into the
 * project's store. The worktree is removed on every path.
 */
async function rebuildInWorktree(config: RolloutConfig, ctx: OpContext, ref: string, options: RollbackOptions): Promise<Artifact> {
  const root = await repoRoot(config.projectDir, { signal: ctx.signal });
  if (!root)
    throw new InputError(`${config.projectDir} is not in a git repository`, {
      hint: 'A rebuild checks a tag out of git; use the release rollback instead.',
    });
  const commit = await resolveCommit(root, ref, { signal: ctx.signal });
  if (!commit) throw new InputError(`"${ref}" is not a tag, branch or commit of ${root}`, { hint: 'List tags with `git tag`.' });
  if (!options.compilerScript)
    throw new InputError('No compiler script was given for the rebuild', {
      hint: 'The extension and the CLI pass the shipped php/compile.php.',
    });
  const prefix = await prefixInRepo(config.projectDir, { signal: ctx.signal });
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phar-rollout-rebuild-'));
  const worktree = path.join(tmp, 'src');
  try {
    ctx.progress(`checking out ${ref} (${commit.slice(0, 7)}) in a separate worktree`);
    await addWorktree(root, commit, worktree, { signal: ctx.signal });
    throwIfAborted(ctx.signal);
    const { artifact } = await buildProject({
      projectDir: path.join(worktree, prefix),
      compilerScript: options.compilerScript,
      boxPath: options.boxPath,
      log: ctx.log,
      signal: ctx.signal,
      onProgress: (m, increment) => ctx.onProgress({ message: `build: ${m}`, increment }),
    });
    return await storeCopy(config.projectDir, artifact);
  } finally {
    await removeWorktree(root, worktree).catch((err) => ctx.log.warn(`removing the worktree ${worktree} failed: ${describeError(err)}`));
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Copies an artifact folder into the project's store (temp name, then rename) unless it is there. */
async function storeCopy(projectDir: string, artifact: Artifact): Promise<Artifact> {
  const existing = await getArtifact(projectDir, artifact.id);
  if (existing && existing.sha256 === artifact.sha256) return existing;
  const root = artifactsDir(projectDir);
  await fs.mkdir(root, { recursive: true });
  const staging = path.join(root, `.copy-${artifact.id}-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.cp(artifact.dir, staging, { recursive: true });
  const target = path.join(root, artifact.id);
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(staging, target);
  const stored = await getArtifact(projectDir, artifact.id);
  if (!stored) throw new OperationError(`copying ${artifact.id} into ${root} failed`, { step: 'store', artifact: artifact.id });
  return stored;
}

/** What a release rollback would do to one backend: the release it runs and the one it goes back to. */
export interface ReleaseRollbackTarget {
  backend: string;
  current?: { id: string; version: string };
  /** Absent when the backend has no complete previous release (the rollback fails there). */
  previous?: { id: string; version: string };
  /** Why the links or the previous release could not be read, or why there is none. */
  problem?: string;
}

/**
 * Per backend of `group` (default canary), the release a release rollback switches `current` back
 * to, read from the backends without changing anything (no lock), so a confirmation can name it.
 */
export async function releaseRollbackTargets(
  config: RolloutConfig,
  group: Group = 'canary',
  options: RolloutOptions = {},
): Promise<ReleaseRollbackTarget[]> {
  const backends = config.backends.filter((b) => b.group === group);
  return withContext(config, options, (ctx) =>
    Promise.all(
      backends.map(async (b): Promise<ReleaseRollbackTarget> => {
        try {
          const t = ctx.pool.get(b);
          const links = await readLinks(t, b.dir, { signal: ctx.signal });
          const [current, previous] = await Promise.all(
            [links.current, links.previous].map((id) => (id ? readRelease(t, b.dir, id, { signal: ctx.signal }) : undefined)),
          );
          const entry = (r: typeof current) => (r ? { id: r.id, version: r.version } : undefined);
          return {
            backend: b.name,
            current: entry(current),
            previous: entry(previous),
            problem: !links.previous ? 'no previous release' : !previous ? `previous release ${links.previous} is incomplete` : undefined,
          };
        } catch (err) {
          return { backend: b.name, problem: describeError(err) };
        }
      }),
    ),
  );
}
