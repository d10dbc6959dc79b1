import { promote } from '../core/rollout/promote';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig, resultTable } from './cliHelpers';
import { safeText } from '../core/safeText';

/** `phar-rollout promote`: the canary's release to every stable backend, then 0 % canary. */
export const promoteCommand = defineCommand({
  name: 'promote',
  summary: "Deploy the canary's release to the stable backends, then set the split to 0 %",
  usage: 'phar-rollout promote --project DIR [--json]',
  options: { ...projectOption, ...jsonOption },
  async run(values, _positionals, ctx) {
    const result = await promote(await projectConfig(values), cliOptions(ctx));
    if (values.json) ctx.stdout(JSON.stringify(result, null, 2));
    else if (result.ok)
      ctx.stdout(`promoted ${safeText(result.artifact.id)} to ${result.results.length} stable backend(s); canary split 0 %`);
    else ctx.stdout(`${resultTable(result.results)}\npromoting ${safeText(result.artifact.id)} failed: the split is unchanged`);
    return result.ok ? EXIT_OK : EXIT_FAILURE;
  },
});
