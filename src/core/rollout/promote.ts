import { deployArtifact } from '../backends/deployBackends';
import type { BackendResult } from '../backends/deployBackends';
import { getArtifact } from '../phar/artifactStore';
import type { Artifact } from '../phar/artifact';
import type { RolloutConfig } from '../config/rolloutConfig';
import { OperationError, emptyGroupError } from '../errors';
import { backendOptions, withLock } from './context';
import type { RolloutOptions } from './context';
import { startHistory } from './history';
import { endRollout, groupReleases, setSplitRecorded } from './shared';
import type { RolloutState } from './types';
import type { Recovered } from './recovery';
import { recoveredField } from './recovery';

export interface PromoteResult {
  /** False when a stable backend failed: then the split is left as it was and the rollout goes on. */
  ok: boolean;
  artifact: Pick<Artifact, 'id' | 'version' | 'commit'>;
  /** Every stable backend and its deploy outcome. */
  results: BackendResult[];
  splitBefore?: number;
  state?: RolloutState;
  /** Interrupted changes recovered (and recorded) before the promote. */
  recovered?: Recovered[];
}

/** "a: why; b: why" for the backends that failed. */
export function failureSummary(results: readonly BackendResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `${r.backend}: ${r.error}`)
    .join('; ');
}

/**
 * Promotes the canary: deploys the artifact the canary backends carry (their current/release.json;
 * all must agree) to every stable backend, then sets the split back to 0 % on every LB. The phar
 * comes from the local artifact store (`.rollout/artifacts/<id>`). Holds the rollout lock. When a
 * stable backend fails, every backend's outcome is returned (`ok` false) and the split stays.
 */
export async function promote(config: RolloutConfig, options: RolloutOptions = {}): Promise<PromoteResult> {
  const canary = config.backends.filter((b) => b.group === 'canary');
  const stable = config.backends.filter((b) => b.group === 'stable');
  if (canary.length === 0) throw emptyGroupError('canary', 'There is nothing to promote.');
  return withLock(config, 'promote', options, async (ctx, _lock, recovered) => {
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
    const started = await startHistory(ctx.store, {
      user: ctx.user,
      action: 'promote',
      target: 'stable',
      before: { releases: stableBefore },
      after: { release: artifact.id },
    });
    ctx.progress(`deploying ${artifact.id} to ${stable.length} stable backend(s)`);
    const { results } = await deployArtifact({ config, backends: stable, artifact, ...backendOptions(ctx) });
    const summary = { id: artifact.id, version: artifact.version, commit: artifact.commit };
    if (results.some((r) => !r.ok)) {
      await started.done({ result: `failed: ${failureSummary(results)}` });
      return { ok: false, artifact: summary, results, ...recoveredField(recovered) };
    }
    await started.done({ result: 'ok' });
    let splitBefore: number | undefined;
    if (config.loadBalancers.length) {
      ctx.progress('setting the split to 0 %');
      const applied = await setSplitRecorded(config, ctx, 0, 'ramp', 'after promote');
      splitBefore = applied[0]?.before?.split;
    }
    const state = await endRollout(config.projectDir, ctx, 'promote', {
      split: 0,
      stepIndex: -1,
      message: `promoted ${artifact.id} to stable by ${ctx.user}`,
    });
    return { ok: true, artifact: summary, results, splitBefore, state, ...recoveredField(recovered) };
  });
}
