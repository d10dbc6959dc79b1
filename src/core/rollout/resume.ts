import type { RolloutConfig } from '../config/rolloutConfig';
import { formatSplit } from '../traffic/render';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { appendHistory } from './history';
import { applyEvent } from './state';
import type { RolloutState } from './types';

/** Resumes a paused rollout (the split stays; the next ramp continues the plan). */
export async function resume(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    const next = (await applyEvent(config.projectDir, 'resume', (current) => ({
      ...current!,
      message: `resumed by ${ctx.user} at ${formatSplit(current!.split)} %`,
    }))) as RolloutState;
    await appendHistory(config.projectDir, {
      user: ctx.user,
      action: 'resume',
      target: 'rollout',
      before: { status: 'paused', split: next.split },
      after: { status: next.status, split: next.split },
      result: 'ok',
    });
    return next;
  });
}
