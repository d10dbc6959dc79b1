import { resume } from '../core/rollout/resume';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';
import { safeText } from '../core/safeText';

/** `phar-rollout resume`: a paused rollout runs again (the next ramp continues the plan). */
export const resumeCommand = defineCommand({
  name: 'resume',
  summary: 'Resume a paused rollout',
  usage: 'phar-rollout resume --project DIR [--json]',
  options: { ...projectOption, ...jsonOption },
  async run(values, _positionals, ctx) {
    const state = await resume(await projectConfig(values), cliOptions(ctx));
    ctx.stdout(values.json ? JSON.stringify(state, null, 2) : safeText(state.message ?? 'resumed'));
    return EXIT_OK;
  },
});
