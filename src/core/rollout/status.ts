import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, describeError } from '../errors';
import { readSplits } from '../traffic/apply';
import type { LbSplit } from '../traffic/apply';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { appendHistory, readHistory } from './history';
import { readLock, removeLock } from './lock';
import { describeHolder } from '../exec/hostLock';
import type { LockHolder } from '../exec/hostLock';
import { readState } from './state';
import type { HistoryEvent, RolloutState } from './types';

export interface RolloutStatusView {
  state?: RolloutState;
  /** What every LB's live file carries. */
  loadBalancers: Array<Omit<LbSplit, 'text'>>;
  lock?: LockHolder;
  lockError?: string;
}

/** Everything the rollout view shows (state, live splits, lock), read in parallel; never locks. */
export async function rolloutStatus(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutStatusView> {
  return withContext(config, options, async (ctx) => {
    const transportOf = (t: { ssh?: string }) => ctx.pool.get(t);
    const [state, live, lock] = await Promise.all([
      readState(config.projectDir),
      readSplits(config, transportOf, { signal: ctx.signal }),
      readLock(config, transportOf, { staleMs: options.staleMs }).then(
        (l) => ({ l, error: undefined as string | undefined }),
        (err) => {
          if (err instanceof CancelledError) throw err;
          return { l: undefined, error: describeError(err) };
        },
      ),
    ]);
    return { state, loadBalancers: live.map(({ text: _text, ...rest }) => rest), lock: lock.l, lockError: lock.error };
  });
}

/** The history, oldest first; `limit` keeps the newest. */
export function history(config: Pick<RolloutConfig, 'projectDir'>, options: { limit?: number } = {}): Promise<HistoryEvent[]> {
  return readHistory(config.projectDir, options);
}

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
      await appendHistory(config.projectDir, {
        user: ctx.user,
        action: 'unlock',
        target: holder.where,
        before: { owner: holder.owner, operation: holder.operation, since: holder.since, stale: holder.stale },
        after: { locked: false },
        result: request.force ? 'ok (forced)' : 'ok',
      });
      ctx.log.debug(`removed the lock of ${describeHolder(holder)}`);
    } else ctx.log.debug('the rollout was not locked');
    return holder;
  });
}
