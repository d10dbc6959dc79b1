import type { RolloutConfig } from '../config/rolloutConfig';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { appendHistory } from './history';
import { removeLock } from './lock';
import type { LockHolder } from '../exec/hostLock';

/**
 * Removes the rollout lock: a stale one always, a live one only with `force`. Logged in the history
 * with who held it. Returns the former holder (undefined: it was not locked).
 */
export async function unlock(
  config: RolloutConfig,
  request: { force: boolean },
  options: RolloutOptions = {},
): Promise<LockHolder | undefined> {
  return withContext(config, options, async (ctx) => {
    const holder = await removeLock(config, (t) => ctx.pool.get(t), { force: request.force, staleMs: options.staleMs });
    if (holder) {
      await appendHistory(ctx.store, {
        user: ctx.user,
        action: 'unlock',
        target: holder.where,
        before: { owner: holder.owner, operation: holder.operation, since: holder.since, stale: holder.stale },
        after: { locked: false },
        result: request.force ? 'ok (forced)' : 'ok',
      });
      ctx.log.debug('removed the rollout lock');
    } else ctx.log.debug('the rollout was not locked');
    return holder;
  });
}
