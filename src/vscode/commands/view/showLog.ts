import type { CommandContext } from '../commandContext';

/** Show Log: the "Phar Rollout" output channel. */
export function showLog(ctx: CommandContext): void {
  ctx.channel.show(true);
}
