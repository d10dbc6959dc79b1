import { deployArtifact } from '../backends/deployBackends';
import type { BackendResult } from '../backends/deployBackends';
import { backendStatus } from '../backends/status';
import { getArtifact } from '../phar/artifactStore';
import type { Artifact } from '../phar/artifact';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { OperationError, emptyGroupError } from '../errors';
import { backendOptions, withLock } from './context';
import type { OpContext, RolloutOptions } from './context';
import { appendHistory } from './history';
import { saveState, setSplitRecorded } from './ramp';
import { readState } from './state';
import type { RolloutState } from './types';

export interface PromoteResult {
  artifact: Pick<Artifact, 'id' | 'version' | 'commit'>;
  /** Stable backends and their deploy outcome. */
  results: BackendResult[];
  splitBefore?: number;
  state?: RolloutState;
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

/** Fails with every failed backend named. */
export function throwOnFailures(results: readonly BackendResult[], what: string): void {
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return;
  throw new OperationError(
    `${what} failed on ${failed.length} of ${results.length} backend(s):\n${failed.map((r) => `  ${r.backend}: ${r.error}`).join('\n')}`,
    { step: failed[0].step, backend: failed[0].backend },
  );
}

/**
 * Promotes the canary: deploys the artifact the canary backends carry (their current/release.json;
 * all must agree) to every stable backend, then sets the split back to 0 % on every LB. The phar
 * comes from the local artifact store (`.rollout/artifacts/<id>`). Holds the rollout lock.
 */
export async function promote(config: RolloutConfig, options: RolloutOptions = {}): Promise<PromoteResult> {
  const canary = config.backends.filter((b) => b.group === 'canary');
  const stable = config.backends.filter((b) => b.group === 'stable');
  if (canary.length === 0) throw emptyGroupError('canary', 'There is nothing to promote.');
  return withLock(config, 'promote', options, async (ctx) => {
    ctx.progress('reading the canary release');
    const canaryIds = await groupReleases(config, ctx, canary);
    const ids = [...new Set(Object.values(canaryIds))];
    if (ids.length !== 1 || ids[0] === null) {
      throw new OperationError(
        `The canary backends do not carry one release: ${Object.entries(canaryIds)
          .map(([n, id]) => `${n} ${id ?? 'none'}`)
          .join(', ')}`,
        { step: 'promote' },
      );
    }
    const id = ids[0];
    const artifact = await getArtifact(config.projectDir, id);
    if (!artifact) {
      throw new OperationError(
        `Artifact ${id} is not in ${config.projectDir}/.rollout/artifacts: build it on this machine, or copy its folder from whoever built it`,
        { step: 'promote', artifact: id },
      );
    }
    const stableBefore = await groupReleases(config, ctx, stable);
    ctx.progress(`deploying ${artifact.id} to ${stable.length} stable backend(s)`);
    const { results } = await deployArtifact({
      config,
      backends: stable,
      artifact,
      ...backendOptions(ctx),
    });
    const failed = results.filter((r) => !r.ok);
    if (failed.length) {
      await appendHistory(config.projectDir, {
        user: ctx.user,
        action: 'promote',
        target: 'stable',
        before: { releases: stableBefore },
        after: { release: artifact.id },
        result: `failed: ${failed.map((r) => `${r.backend}: ${r.error}`).join('; ')}`,
      });
      throwOnFailures(results, `Promoting ${artifact.id}`);
    }
    await appendHistory(config.projectDir, {
      user: ctx.user,
      action: 'promote',
      target: 'stable',
      before: { releases: stableBefore },
      after: { release: artifact.id },
      result: 'ok',
    });
    let splitBefore: number | undefined;
    if (config.loadBalancers.length) {
      ctx.progress('setting the split to 0 %');
      const applied = await setSplitRecorded(config, ctx, 0, 'ramp', 'after promote');
      splitBefore = applied[0]?.before?.split;
    }
    const prev = await readState(config.projectDir);
    let state: RolloutState | undefined;
    if (prev) {
      state = { ...prev, status: 'done', split: 0, stepIndex: -1, message: `promoted ${artifact.id} to stable by ${ctx.user}` };
      await saveState(config.projectDir, state);
    }
    return { artifact: { id: artifact.id, version: artifact.version, commit: artifact.commit }, results, splitBefore, state };
  });
}
