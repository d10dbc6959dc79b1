import { pause as corePause } from '../../../core/rollout/pause';
import type { RolloutState } from '../../../core/rollout/types';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';

/** Pause Rollout: a running multi-step ramp stops after its step; ramps are refused until Resume. */
export async function pause(ctx: CommandContext): Promise<RolloutState> {
  const config = requireConfig(ctx);
  const state = await ctx.withProgress('Phar Rollout: Pausing', (signal, report) => corePause(config, rolloutOptions(ctx, signal, report)));
  await ctx.model.refreshLive();
  return state;
}
