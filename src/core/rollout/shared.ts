import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import { backendStatus } from '../backends/status';
import { readCurrentRelease } from '../backends/releases';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, describeError } from '../errors';
import { applySplit } from '../traffic/apply';
import type { AppliedLb, LbSplit } from '../traffic/apply';
import { readLives, servedSplit } from '../traffic/live';
import { formatSplit, toBasisPoints } from '../traffic/render';
import { backendOptions } from './context';
import type { OpContext } from './context';
import { startHistory } from './history';
import { StateFileError, applyEvent } from './state';
import type { RolloutState } from './types';

// Helpers every rollout verb shares: split arithmetic, recorded split changes, releases per group, state updates.

/** The split the project's LBs carry: the first LB's (the others are warned about if they differ). */
export function currentSplit(live: readonly LbSplit[], log?: { warn(m: string): void }): number | undefined {
  const known = live.filter((l) => l.split !== undefined);
  if (known.length === 0) return undefined;
  const first = live[0].split ?? known[0].split;
  const differ = known.filter((l) => l.split !== first);
  if (differ.length)
    log?.warn(
      `load balancers disagree: ${live.map((l) => `${l.name} ${l.split === undefined ? '?' : formatSplit(l.split) + ' %'}`).join(', ')}`,
    );
  return first;
}

/** What every LB serves (nginx's answer, see servedSplit), the split a ramp or a run starts from (a file nginx does not serve is no split). */
export async function servedSplits(config: RolloutConfig, ctx: OpContext): Promise<LbSplit[]> {
  const lives = await readLives(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal });
  return lives.map((l) => ({
    name: l.name,
    host: l.host,
    file: l.file,
    split: servedSplit(l),
    mode: l.mode,
    error: l.error ?? l.liveError,
  }));
}

/** The first plan step above `current` (the first step when the split is unknown). */
export function nextStep(steps: readonly number[], current: number | undefined): number | undefined {
  return current === undefined ? steps[0] : steps.find((s) => toBasisPoints(s) > toBasisPoints(current));
}

/** Index of `split` in the plan; -1 when it is off-plan or unknown. */
export function stepIndexOf(steps: readonly number[], split: number | undefined): number {
  if (split === undefined) return -1;
  const bp = toBasisPoints(split);
  return steps.findIndex((s) => toBasisPoints(s) === bp);
}

/** A new rollout at `split` with the project's plan, started by `user`. */
export function freshState(config: RolloutConfig, split: number | undefined, user?: string): RolloutState {
  const now = new Date().toISOString();
  return {
    version: 1,
    status: 'running',
    steps: [...config.traffic.steps],
    stepIndex: stepIndexOf(config.traffic.steps, split),
    split: split ?? 0,
    startedAt: now,
    updatedAt: now,
    ...(user ? { startedBy: user } : {}),
  };
}

/**
 * Sets the split on every LB, recording it in the history before (result "started") and after
 * (its outcome, also a failure or a cancel, which leave every LB on its previous file).
 */
export async function setSplitRecorded(
  config: RolloutConfig,
  ctx: OpContext,
  split: number,
  action: string,
  note?: string,
): Promise<AppliedLb[]> {
  const target = config.loadBalancers.map((lb) => lb.name).join(', ');
  const started = await startHistory(ctx.store, { user: ctx.user, action, target, after: { split } });
  let applied: AppliedLb[];
  try {
    applied = await applySplit(config, split, (lb) => ctx.pool.get(lb), {
      log: ctx.log,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      owner: ctx.user,
    });
  } catch (err) {
    await started.done({ result: err instanceof CancelledError ? 'cancelled' : `failed: ${describeError(err)}` });
    throw err;
  }
  const befores = Object.fromEntries(applied.map((a) => [a.name, a.before?.split ?? null]));
  const first = applied[0]?.before?.split ?? null;
  const allSame = Object.values(befores).every((v) => v === first);
  await started.done({
    before: allSame ? { split: first } : { split: first, loadBalancers: befores },
    result: note ? `ok (${note})` : 'ok',
  });
  await rememberLoadBalancers(config).catch((err) => ctx.log.debug(`keeping the load balancer list failed: ${describeError(err)}`));
  return applied;
}

/** `<project>/.rollout/loadBalancers.json`: where the LBs are, for the emergency path when rollout.json is broken. */
export function loadBalancersCachePath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, 'loadBalancers.json');
}

/** Keeps the LB entries of the last applied split locally (temp file + rename). */
async function rememberLoadBalancers(config: RolloutConfig): Promise<void> {
  const file = loadBalancersCachePath(config.projectDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ version: 1, time: new Date().toISOString(), loadBalancers: config.loadBalancers }, null, 2));
  await fs.rename(tmp, file);
}

/** Versions per backend (`name` → artifact id) of a group, read from current/release.json. */
export async function groupReleases(
  config: RolloutConfig,
  ctx: OpContext,
  backends: readonly BackendConfig[],
): Promise<Record<string, string | null>> {
  const { transports, signal, log } = backendOptions(ctx);
  const status = await backendStatus(config, { backends, transports, signal, log });
  return Object.fromEntries(status.map((s) => [s.name, s.deployedArtifact ?? null]));
}

/** The release the canary backends carry (the first that answers). */
export async function canaryRelease(config: RolloutConfig, ctx: OpContext): Promise<{ id?: string; version?: string }> {
  const canary = config.backends.filter((b) => b.group === 'canary');
  const releases = await Promise.all(
    canary.map((b) => readCurrentRelease(ctx.pool.get(b), b.dir, { signal: ctx.signal }).catch(() => undefined)),
  );
  const first = releases.find((r) => r);
  return { id: first?.id, version: first?.version };
}

/**
 * Ends the rollout after a promote or a rollback someone chose (`patch`: the fields to change). Its
 * change is already live, so a corrupt state.json or a shared store that cannot be written does not
 * fail it: the problem is logged (the file left for the user to repair).
 */
export async function endRollout(
  _projectDir: string,
  ctx: OpContext,
  event: 'promote' | 'rollback',
  patch: Partial<RolloutState>,
): Promise<RolloutState | undefined> {
  try {
    return await applyEvent(ctx.store, event, (current) => ({ ...current!, ...patch, endedBy: event }));
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    ctx.log.warn(
      `${describeError(err)} (the ${event} itself is done${err instanceof StateFileError ? '' : '; the rollout state was not updated'})`,
    );
    return undefined;
  }
}
