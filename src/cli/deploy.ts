import { getArtifact } from '../core/phar/artifactStore';
import type { BackendConfig } from '../core/config/rolloutConfig';
import { CancelledError, InputError, emptyGroupError } from '../core/errors';
import { deployRecorded } from '../core/rollout/recordedDeploy';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig, resultTable } from './cliHelpers';

const DEPLOY_USAGE =
  'phar-rollout deploy --project DIR --artifact ID|latest (--group stable|canary | --backend NAME [--backend NAME…]) [--json]';

/** `phar-rollout deploy`: put a built artifact on a group or on named backends. */
export const deployCommand = defineCommand({
  name: 'deploy',
  summary: 'Deploy an artifact (id or "latest") to a group or to named backends: upload, verify, switch, restart, probe',
  usage: DEPLOY_USAGE,
  options: {
    ...projectOption,
    artifact: { type: 'string', short: 'a' },
    group: { type: 'string', short: 'g' },
    backend: { type: 'string', short: 'b', multiple: true },
    ...jsonOption,
  },
  async run(values, _positionals, ctx) {
    const config = await projectConfig(values);
    const id = values.artifact;
    if (!id) throw new InputError('Which artifact? Give --artifact ID or --artifact latest', { hint: DEPLOY_USAGE });
    const group = values.group;
    const names = values.backend ?? [];
    if ((group === undefined) === (names.length === 0)) throw new InputError('Give either --group or --backend', { hint: DEPLOY_USAGE });
    let backends: BackendConfig[];
    if (group !== undefined) {
      if (group !== 'stable' && group !== 'canary') throw new InputError(`--group must be stable or canary, not "${group}"`);
      backends = config.backends.filter((b) => b.group === group);
      if (!backends.length) throw emptyGroupError(group, `Add one to "backends" in ${config.file}.`);
    } else {
      const unknown = names.filter((n) => !config.backends.some((b) => b.name === n));
      if (unknown.length)
        throw new InputError(`Unknown backend ${unknown.map((n) => `"${n}"`).join(', ')}`, {
          hint: `Known: ${config.backends.map((b) => b.name).join(', ')}.`,
        });
      backends = config.backends.filter((b) => names.includes(b.name));
    }
    const artifact = await getArtifact(config.projectDir, id);
    if (!artifact) {
      throw new InputError(`No artifact "${id}" in ${config.projectDir}/.rollout/artifacts`, {
        hint: id === 'latest' ? 'Build one first: phar-rollout build.' : 'See the ids with the Artifacts view, or build first.',
      });
    }
    const target = group ?? backends.map((b) => b.name).join(',');

    const lastStep = new Map<string, string>();
    const lastPercent = new Map<string, number>();
    const { results, cancelled } = await deployRecorded(config, artifact, backends, {
      ...cliOptions(ctx),
      target,
      onProgress: ({ backend, step, bytes }) => {
        if (!backend || !step) return;
        if (bytes && artifact.size > 0) {
          const pct = Math.floor((bytes.done / artifact.size) * 10) * 10;
          if (pct > (lastPercent.get(backend) ?? -1)) {
            lastPercent.set(backend, pct);
            ctx.log.debug(`${backend}: upload ${pct} %`);
          }
          return;
        }
        if (lastStep.get(backend) === step) return;
        lastStep.set(backend, step);
        if (step !== 'queued') ctx.log.info(`${backend}: ${step}`);
      },
    });

    if (values.json)
      ctx.stdout(JSON.stringify({ artifact: { id: artifact.id, version: artifact.version, commit: artifact.commit }, results }, null, 2));
    else ctx.stdout(resultTable(results));
    if (cancelled) throw new CancelledError();
    return results.every((r) => r.ok) ? EXIT_OK : EXIT_FAILURE;
  },
});
