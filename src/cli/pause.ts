import { pause } from '../core/rollout/pause';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';
import { safeText } from '../core/safeText';

/** `phar-rollout pause`: stop the rollout where it is (ramps refused until resume). */
export const pauseCommand = defineCommand({
  name: 'pause',
  summary: 'Pause the rollout: the split stays, ramps are refused until resume',
  usage: 'phar-rollout pause --project DIR [--json]',
  options: { ...projectOption, ...jsonOption },
  async run(values, _positionals, ctx) {
    const state = await pause(await projectConfig(values), cliOptions(ctx));
    ctx.stdout(values.json ? JSON.stringify(state, null, 2) : safeText(state.message ?? 'paused'));
    return EXIT_OK;
  },
});
