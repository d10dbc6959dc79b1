import { resume as coreResume } from '../../../core/rollout/resume';
import type { RolloutState } from '../../../core/rollout/types';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';

/** Resume Rollout: the split stays; the next ramp continues the plan. */
export async function resume(ctx: CommandContext): Promise<RolloutState> {
  const config = requireConfig(ctx);
  const state = await ctx.withProgress('Phar Rollout: Resuming', (signal, report) =>
    coreResume(config, rolloutOptions(ctx, signal, report)),
  );
  await ctx.model.refreshLive();
  return state;
}
