import type { CommandContext } from '../commandContext';

/** Refresh: re-reads the project files, then probes backends and load balancers. */
export async function refresh(ctx: CommandContext): Promise<void> {
  await ctx.model.reload();
  await ctx.model.refreshLive();
}
