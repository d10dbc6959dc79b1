import { InputError } from '../core/errors';
import { history } from '../core/rollout/status';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { projectConfig } from './cliHelpers';
import { safeText } from '../core/safeText';

const brief = (v: unknown) => (v === undefined ? '' : safeText(JSON.stringify(v)));

/** `phar-rollout history`: every build, deploy, split change and rollback, oldest first. */
export const historyCommand = defineCommand({
  name: 'history',
  summary: 'Show the rollout history (shared beside the rollout lock on the first LB host; .rollout/ keeps a copy)',
  usage: 'phar-rollout history --project DIR [--limit N] [--json]',
  options: { ...projectOption, limit: { type: 'string' }, ...jsonOption },
  async run(values, _positionals, ctx) {
    if (values.limit !== undefined && !/^\d+$/.test(values.limit)) throw new InputError(`--limit "${values.limit}" is not a whole number`);
    const events = await history(await projectConfig(values), {
      log: ctx.log,
      limit: values.limit !== undefined ? Number(values.limit) : undefined,
    });
    if (values.json) ctx.stdout(JSON.stringify(events, null, 2));
    else
      for (const e of events)
        ctx.stdout(
          `${safeText(e.time, 40)}  ${safeText(e.user, 120)}  ${safeText(e.action, 60)}${e.target ? ` ${safeText(e.target, 120)}` : ''}  ${brief(e.before)} → ${brief(e.after)}  ${safeText(e.result)}`,
        );
    return EXIT_OK;
  },
});
