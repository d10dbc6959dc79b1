import { unlock } from '../core/rollout/unlock';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';
import { describeHolder } from '../core/exec/hostLock';

/** `phar-rollout unlock`: remove a stale rollout lock, or any with --force (logged in the history). */
export const unlockCommand = defineCommand({
  name: 'unlock',
  summary: 'Remove the rollout lock: a stale one, or any with --force (logged in the history)',
  usage: 'phar-rollout unlock --project DIR [--force] [--json]',
  options: { ...projectOption, force: { type: 'boolean' }, ...jsonOption },
  async run(values, _positionals, ctx) {
    const holder = await unlock(await projectConfig(values), { force: values.force === true }, cliOptions(ctx));
    if (values.json) ctx.stdout(JSON.stringify({ removed: holder !== undefined, holder }, null, 2));
    else ctx.stdout(holder ? `removed the lock of ${describeHolder(holder)}` : 'not locked');
    return EXIT_OK;
  },
});
