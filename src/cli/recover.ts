import { recover } from '../core/rollout/recover';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectOrAppliedConfig, terminalText } from './cliHelpers';

/** `phar-rollout recover`: finish what an interrupted split change left, without changing what nginx serves. */
export const recoverCommand = defineCommand({
  name: 'recover',
  summary:
    'Put every load balancer back on its last confirmed split after an interrupted change (recorded in the history); traffic otherwise unchanged',
  usage: 'phar-rollout recover --project DIR [--json]',
  options: { ...projectOption, ...jsonOption },
  async run(values, _positionals, ctx) {
    const { config, fallback } = await projectOrAppliedConfig(values, ctx);
    const result = await recover(config, cliOptions(ctx));
    if (values.json) ctx.stdout(JSON.stringify(fallback ? { ...result, configSource: fallback.source } : result, null, 2));
    else {
      for (const r of result.recovered) ctx.stdout(terminalText(r.description));
      for (const r of result.repaired.filter((x) => x.changed)) ctx.stdout(terminalText(r.message));
      if (result.recovered.length === 0 && !result.repaired.some((x) => x.changed))
        ctx.stdout('nothing to recover: no interrupted change, and no file that disagrees with what nginx serves');
    }
    return EXIT_OK;
  },
});
