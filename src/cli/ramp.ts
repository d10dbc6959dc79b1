import { InputError } from '../core/errors';
import { previewRamp, ramp } from '../core/rollout/ramp';
import type { RampTarget } from '../core/rollout/ramp';
import { formatSplit } from '../core/traffic/render';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';
import { safeText } from '../core/safeText';

/** "25", "25%", "12.5" → 25, 12.5; InputError otherwise. */
export function parsePercent(text: string): number {
  const m = /^(\d{1,3}(?:\.\d+)?)%?$/.exec(text.trim());
  if (!m) throw new InputError(`"${text}" is not a percentage`, { hint: 'Give a number between 0 and 100, e.g. 25 or 12.5.' });
  return Number(m[1]);
}

const RAMP_USAGE = 'phar-rollout ramp --project DIR (PERCENT | --next [--all]) [--no-gate] [--skip-preflight] [--dry-run] [--json]';

/** `phar-rollout ramp`: set the canary split (a percentage, or the next plan step), then run the gate. */
export const rampCommand = defineCommand({
  name: 'ramp',
  summary: 'Move canary traffic to PERCENT or the next step of traffic.steps, then check the gate',
  usage: RAMP_USAGE,
  positionals: true,
  options: {
    ...projectOption,
    next: { type: 'boolean' },
    all: { type: 'boolean' },
    'no-gate': { type: 'boolean' },
    'skip-preflight': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    ...jsonOption,
  },
  async run(values, positionals, ctx) {
    if (positionals.length > 1) throw new InputError(`Unexpected arguments: ${positionals.slice(1).join(' ')}`, { hint: RAMP_USAGE });
    if ((positionals.length === 1) === (values.next === true))
      throw new InputError('Give either a PERCENT or --next', { hint: RAMP_USAGE });
    if (values.all && !values.next) throw new InputError('--all goes with --next', { hint: RAMP_USAGE });
    const target: RampTarget = values.next ? { next: true, all: values.all === true } : { percent: parsePercent(positionals[0]) };
    const config = await projectConfig(values);
    if (values['dry-run']) {
      const preview = await previewRamp(config, target, cliOptions(ctx));
      if (values.json) ctx.stdout(JSON.stringify(preview, null, 2));
      else
        for (const f of preview.files)
          ctx.stdout(
            `# ${f.lb} (${f.host}) ${f.file}: ${f.oldSplit === undefined ? '?' : formatSplit(f.oldSplit)} % → ${formatSplit(preview.after)} %\n${f.newText}`,
          );
      return EXIT_OK;
    }
    const result = await ramp(config, target, {
      ...cliOptions(ctx),
      gate: values['no-gate'] !== true,
      skipPreflight: values['skip-preflight'] === true,
    });
    if (values.json) ctx.stdout(JSON.stringify(result, null, 2));
    else {
      for (const s of result.steps) {
        const g = s.gate;
        ctx.stdout(
          `canary ${formatSplit(s.split)} %` +
            (g
              ? ` — gate ${g.pass ? 'passed' : 'FAILED'}: ${Math.round(g.canary.errorRate * 10000) / 100} % errors, p95 ${Math.round(g.canary.p95Ms)} ms (stable ${g.stable ? `${Math.round(g.stable.errorRate * 10000) / 100} %, p95 ${Math.round(g.stable.p95Ms)} ms` : 'n/a'})`
              : ''),
        );
      }
      if (!result.ok) ctx.stdout(`rollout stopped: ${safeText(result.reason)}${result.rolledBack ? '; split set back to 0 %' : ''}`);
      if (result.paused) ctx.stdout(`paused at ${formatSplit(result.after)} %`);
    }
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  },
});
