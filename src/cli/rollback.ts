import { InputError } from '../core/errors';
import { rollback } from '../core/rollout/rollback';
import type { RollbackRequest } from '../core/rollout/rollback';
import { formatSplit } from '../core/traffic/render';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig, projectOrAppliedConfig, resultTable } from './cliHelpers';
import { safeText } from '../core/safeText';

const ROLLBACK_USAGE = 'phar-rollout rollback --project DIR (--traffic | --release | --rebuild REF) [--group canary|stable] [--json]';

/** `phar-rollout rollback`: traffic (0 % now), release (previous release) or rebuild (a git ref). */
export const rollbackCommand = defineCommand({
  name: 'rollback',
  summary: 'Roll back: --traffic (split 0 % now), --release (previous release), --rebuild REF (build a tag and deploy it)',
  usage: ROLLBACK_USAGE,
  options: {
    ...projectOption,
    traffic: { type: 'boolean' },
    release: { type: 'boolean' },
    rebuild: { type: 'string' },
    group: { type: 'string' },
    ...jsonOption,
  },
  async run(values, _positionals, ctx) {
    const speeds = [
      values.traffic === true && 'traffic',
      values.release === true && 'release',
      values.rebuild !== undefined && 'rebuild',
    ].filter(Boolean);
    if (speeds.length !== 1) throw new InputError('Choose one of --traffic, --release, --rebuild REF', { hint: ROLLBACK_USAGE });
    const group = values.group;
    if (group !== undefined && group !== 'canary' && group !== 'stable')
      throw new InputError(`--group must be canary or stable, not "${group}"`);
    if (group !== undefined && values.traffic) throw new InputError('--group goes with --release or --rebuild');
    const request: RollbackRequest = {
      speed: speeds[0] as RollbackRequest['speed'],
      ref: values.rebuild,
      group,
    };
    // A traffic rollback is the emergency exit: with rollout.json broken it runs from the configuration
    // the live split was applied with (kept on the LB), and says so.
    const { config, fallback } =
      request.speed === 'traffic'
        ? await projectOrAppliedConfig(values, ctx)
        : { config: await projectConfig(values), fallback: undefined };
    const result = await rollback(config, request, { ...cliOptions(ctx), compilerScript: ctx.compilerScript });
    if (values.json) ctx.stdout(JSON.stringify(fallback ? { ...result, configSource: fallback.source } : result, null, 2));
    else if (result.speed === 'traffic') {
      ctx.stdout(`canary split ${result.splitBefore === undefined ? '?' : formatSplit(result.splitBefore)} % → 0 %`);
      if (fallback) ctx.stdout(`(rollout.json has errors: used the last applied configuration, from ${fallback.source})`);
    } else {
      const names = Object.keys(result.releasesAfter ?? {});
      if (!result.ok) ctx.stdout(resultTable(result.results ?? []));
      ctx.stdout(
        names
          .map((n) => `${n}: ${safeText(result.releasesBefore?.[n] ?? 'none', 80)} → ${safeText(result.releasesAfter?.[n] ?? 'none', 80)}`)
          .join('\n'),
      );
    }
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  },
});
