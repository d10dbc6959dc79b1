import type { RolloutConfig } from '../config/rolloutConfig';
import { formatSplit } from '../traffic/render';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { applyEvent } from './state';
import type { RolloutState } from './types';

/** Resumes a paused rollout, from any checkout (the split stays; the next ramp or `run` continues the plan). */
export async function resume(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    const next = (await applyEvent(
      ctx.store,
      'resume',
      (current) => ({ ...current!, message: `resumed by ${ctx.user} at ${formatSplit(current!.split)} %` }),
      (written) => [
        {
          user: ctx.user,
          action: 'resume',
          target: 'rollout',
          before: { status: 'paused', split: written.split },
          after: { status: written.status, split: written.split },
          result: 'ok',
        },
      ],
    )) as RolloutState;
    return next;
  });
}
