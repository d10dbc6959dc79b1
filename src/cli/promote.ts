import { promote } from '../core/rollout/promote';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';

/** `phar-rollout promote`: the canary's release to every stable backend, then 0 % canary. */
export const promoteCommand = defineCommand({
  name: 'promote',
  summary: "Deploy the canary's release to the stable backends, then set the split to 0 %",
  usage: 'phar-rollout promote --project DIR [--json]',
  options: { ...projectOption, ...jsonOption },
  async run(values, _positionals, ctx) {
    const result = await promote(await projectConfig(values), cliOptions(ctx));
    if (values.json) ctx.stdout(JSON.stringify(result, null, 2));
    else ctx.stdout(`promoted ${result.artifact.id} to ${result.results.length} stable backend(s); canary split 0 %`);
    return EXIT_OK;
  },
});
