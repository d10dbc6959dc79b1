import type { RolloutConfig } from '../config/rolloutConfig';
import { formatSplit } from '../traffic/render';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { applyEvent } from './state';
import type { RolloutState } from './types';

/**
 * Pauses the rollout, from any checkout (the state is shared on the first LB's host): a running
 * `ramp --next --all` stops after its step, a running `run` at its next window; ramps are refused
 * until resume. It does not take the rollout lock (which a running ramp holds): the state is
 * compare-and-swapped on the host, so a ramp saving its step never overwrites the pause. The state
 * and its history event are written in one round trip.
 */
export async function pause(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    const next = (await applyEvent(
      ctx.store,
      'pause',
      (current) => ({ ...current!, message: `paused by ${ctx.user} at ${formatSplit(current!.split)} %` }),
      (written, before) => [
        {
          user: ctx.user,
          action: 'pause',
          target: 'rollout',
          before: { status: before?.status, split: written.split },
          after: { status: written.status, split: written.split },
          result: 'ok',
        },
      ],
    )) as RolloutState;
    return next;
  });
}
