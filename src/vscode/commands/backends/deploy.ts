import { deployRecorded } from '../../../core/rollout/recordedDeploy';
import { rolloutOptions } from '../traffic/rolloutOptions';
import type { BackendResult } from '../../../core/backends/deployBackends';
import { OperationError } from '../../../core/errors';
import { quoted } from '../../../core/safeText';
import { deployProgress } from '../../deployProgress';
import { Commands } from '../../contributions';
import { notify } from '../../notify';
import type { Artifact } from '../../../core/phar/artifact';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';
import { confirm, pickArtifact, pickBackends, requireConfig } from '../pick';

/**
 * Deploy…: pick a build and backends (or take them from the tree node), then deploy with per-backend
 * progress and cancellation. Every backend's outcome is reported; one failure is never a success.
 */
export async function deploy(
  ctx: CommandContext,
  node?: NodeOf<'backend' | 'group'>,
  options: { artifactId?: string; backends?: string[] } = {},
): Promise<BackendResult[] | undefined> {
  const config = requireConfig(ctx);
  const artifactId = options.artifactId;
  const artifact: Artifact | undefined = artifactId
    ? await findArtifact(ctx, artifactId)
    : await pickArtifact(ctx, 'Deploy: choose a build');
  if (!artifact) return undefined;
  const target = options.backends
    ? { backends: config.backends.filter((b) => options.backends!.includes(b.name)), label: options.backends.join(', ') }
    : await pickBackends(config, node, `Deploy ${artifact.version}`);
  if (!target || target.backends.length === 0) return undefined;
  if (target.backends.some((b) => b.group === 'stable') && !options.backends) {
    const ok = await confirm(
      ctx,
      `Deploy ${artifact.version} to ${target.label}?`,
      `${target.backends.map((b) => b.name).join(', ')} will switch to ${artifact.id}. Stable backends serve production traffic.`,
      'Deploy',
    );
    if (!ok) return undefined;
  }
  const progress = deployProgress(target.backends.length);
  const results = await ctx.withProgress(`Phar Rollout: Deploying ${artifact.version} to ${target.label}`, async (signal, report) => {
    const { results } = await deployRecorded(config, artifact, target.backends, {
      ...rolloutOptions(ctx, signal, report),
      target: target.label,
      onProgress: ({ backend, step, bytes: detail }) => {
        if (!backend || !step) return;
        const pct = detail && detail.total > 0 ? ` ${Math.round((detail.done / detail.total) * 100)} %` : '';
        const who = target.backends.length > 1 ? `${backend}: ` : ''; // the title already names a single backend
        report(`${who}${step}${pct}`, detail ? undefined : progress(backend, step));
      },
    });
    return results;
  });
  await ctx.model.refreshLive();
  const failed = results.filter((r) => !r.ok);
  for (const r of results)
    ctx.log.info(`deploy ${artifact.id} → ${r.backend}: ${r.ok ? 'ok' : `failed at ${r.step}: ${r.error}`} (${r.durationMs} ms)`);
  if (failed.length > 0) {
    throw new OperationError(
      `Deploy of ${artifact.version} failed on ${failed.map((r) => `${r.backend} (${r.step}: ${r.error})`).join('; ')}${failed.length < results.length ? `; ${results.length - failed.length} other backend(s) succeeded` : ''}`,
    );
  }
  // Next steps: a canary deploy is followed by a ramp; Verify Split checks where requests land.
  const toCanary = target.backends.some((b) => b.group === 'canary') && config.loadBalancers.length > 0;
  notify(
    'info',
    `Deployed ${artifact.version} to ${target.label} (${results.length} backend${results.length === 1 ? '' : 's'}).`,
    toCanary
      ? [
          { title: 'Ramp Canary…', command: Commands.ramp },
          { title: 'Verify Split', command: Commands.verifySplit },
        ]
      : [],
  );
  return results;
}

/** The build with this id; the store is re-read once if the model does not know it yet. */
async function findArtifact(ctx: CommandContext, id: string): Promise<Artifact> {
  const known = () => ctx.model.artifacts.find((a) => a.id === id);
  if (!known()) await ctx.model.reload();
  const found = known();
  if (!found) throw new Error(`There is no build ${quoted(id)} in .rollout/artifacts: build it first (Phar Rollout: Build Phar).`);
  return found;
}
