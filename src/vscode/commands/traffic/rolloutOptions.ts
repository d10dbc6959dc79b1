import type { RolloutOptions } from '../../../core/rollout/context';
import type { CommandContext } from '../commandContext';

/** The options every rollout operation takes, wired to the extension's log, pool and progress. */
export function rolloutOptions(
  ctx: CommandContext,
  signal: AbortSignal,
  report: (message: string, increment?: number) => void,
): RolloutOptions {
  return {
    log: ctx.log,
    signal,
    transports: ctx.model.transports(),
    onProgress: (p) => report(p.message, p.increment),
  };
}
