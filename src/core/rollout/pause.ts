import type { RolloutConfig } from '../config/rolloutConfig';
import { formatSplit } from '../traffic/render';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { appendHistory } from './history';
import { applyEvent } from './state';
import type { RolloutState } from './types';

/**
 * Pauses the rollout: a running `ramp --next --all` stops after its step; ramps are refused until
 * resume. It takes the state lock, not the rollout lock (which a running ramp holds): the ramp saves
 * its steps under the same state lock, so the pause is never overwritten.
 */
export async function pause(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    let before: RolloutState | undefined;
    const next = (await applyEvent(config.projectDir, 'pause', (current) => {
      before = current;
      return { ...current!, message: `paused by ${ctx.user} at ${formatSplit(current!.split)} %` };
    })) as RolloutState;
    await appendHistory(config.projectDir, {
      user: ctx.user,
      action: 'pause',
      target: 'rollout',
      before: { status: before?.status, split: next.split },
      after: { status: next.status, split: next.split },
      result: 'ok',
    });
    return next;
  });
}
