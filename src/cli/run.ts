import { runRollout } from '../core/rollout/run';
import type { RunOutcome, WindowReport } from '../core/rollout/run';
import { safeText } from '../core/safeText';
import { formatSplit } from '../core/traffic/render';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';

/** Exit code per outcome: 0 completed, 1 rolled back or failed, 3 paused (a pause step, a person, or inconclusive). */
export const EXIT_PAUSED = 3;
const EXIT: Record<RunOutcome, number> = { completed: EXIT_OK, 'rolled-back': EXIT_FAILURE, failed: EXIT_FAILURE, paused: EXIT_PAUSED };

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const side = (s: WindowReport['canary']) =>
  `${s.requests} req, ${pct(s.errorRate)} errors, p95 ${s.p95Ms === undefined ? '–' : `${s.p95Ms} ms`}`;

/** `phar-rollout run`: walk the plan on real traffic, judging every window from the LBs' access logs. */
export const runCommand = defineCommand({
  name: 'run',
  summary: 'Run the rollout plan: each step confirmed live, judged on real traffic every analysis.interval, rolled back on failure',
  usage: 'phar-rollout run --project DIR [--no-precheck] [--json]   (exit 0 completed, 1 rolled back/failed, 2 bad input, 3 paused)',
  options: { ...projectOption, 'no-precheck': { type: 'boolean' }, ...jsonOption },
  async run(values, _positionals, ctx) {
    const config = await projectConfig(values);
    const result = await runRollout(config, {
      ...cliOptions(ctx),
      precheck: values['no-precheck'] === true ? false : undefined,
      onStep: (step, phase) => {
        if (!values.json && phase === 'live')
          ctx.stdout(`canary ${formatSplit(step.weight)} % live: observing for ${Math.round(step.observeMs / 1000)} s`);
      },
      onWindow: (step, w) => {
        if (values.json) return;
        ctx.stdout(
          `  window ${step.windows.length} at ${formatSplit(step.weight)} %: ${w.verdict.toUpperCase()} — canary ${side(w.canary)}; stable ${side(w.stable)}` +
            (w.verdict === 'pass' ? '' : `\n    ${w.reasons.map((r) => safeText(r)).join('\n    ')}`) +
            (w.unparsable ? ` (${w.unparsable} unparsable log lines)` : ''),
        );
      },
    });
    if (values.json) {
      ctx.stdout(
        JSON.stringify(
          {
            result: result.result,
            reason: result.reason,
            promoted: result.promoted,
            steps: result.steps.map((s) => ({
              weight: s.weight,
              observeMs: s.observeMs,
              verdict: s.verdict,
              decision: s.decision,
              windows: s.windows.map((w) => ({
                fromMs: w.fromMs,
                toMs: w.toMs,
                canary: w.canary,
                stable: w.stable,
                verdict: w.verdict,
                reasons: w.reasons,
              })),
            })),
          },
          null,
          2,
        ),
      );
    } else {
      ctx.stdout(`rollout ${result.result}${result.promoted ? ' (promoted)' : ''}${result.reason ? `: ${safeText(result.reason)}` : ''}`);
    }
    return EXIT[result.result];
  },
});
