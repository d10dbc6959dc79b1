import { deployArtifact } from '../backends/deployBackends';
import type { BackendResult } from '../backends/deployBackends';
import type { Artifact } from '../phar/artifact';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { backendOptions, withLock } from './context';
import type { RolloutOptions } from './context';
import { startHistory } from './history';
import { groupReleases } from './shared';

export interface RecordedDeployResult {
  results: BackendResult[];
  cancelled: boolean;
}

/**
 * Deploys `artifact` to `backends` under the rollout lock (no ramp or promote meanwhile) and records
 * it in the history: a "started" event with every backend's release before, and the outcome after
 * (so a deploy killed mid-way still shows). The CLI and the
 * extension both deploy through here.
 */
export function deployRecorded(
  config: RolloutConfig,
  artifact: Artifact,
  backends: readonly BackendConfig[],
  options: RolloutOptions & { target: string },
): Promise<RecordedDeployResult> {
  return withLock(
    config,
    `deploy ${artifact.id} to ${options.target}`,
    options,
    async (op) => {
      const before = await groupReleases(config, op, backends);
      const started = await startHistory(op.store, {
        user: op.user,
        action: 'deploy',
        target: options.target,
        before: { releases: before },
        after: { release: artifact.id, version: artifact.version },
      });
      const { results } = await deployArtifact({
        config,
        artifact,
        backends,
        ...backendOptions(op),
      });
      const failed = results.filter((r) => !r.ok);
      const cancelled = results.some((r) => r.cancelled);
      await started.done({
        after: {
          release: artifact.id,
          version: artifact.version,
          results: Object.fromEntries(results.map((r) => [r.backend, r.ok ? 'ok' : `${r.step}: ${r.error}`])),
        },
        result: failed.length === 0 ? 'ok' : cancelled ? 'cancelled' : `failed on ${failed.map((r) => r.backend).join(', ')}`,
      });
      return { results, cancelled };
    },
    'bestEffort',
  );
}
