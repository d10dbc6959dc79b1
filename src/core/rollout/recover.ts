import type { RolloutConfig } from '../config/rolloutConfig';
import { noLoadBalancerError } from '../errors';
import { readLives, repairLive } from '../traffic/live';
import type { Repair } from '../traffic/live';
import { withLock } from './context';
import type { RolloutOptions } from './context';
import { appendHistory } from './history';
import type { Recovered } from './recovery';

export interface RecoverResult {
  /** Interrupted changes put back (each recorded as a "recovered" history event). */
  recovered: Recovered[];
  /** LBs whose file disagreed with what nginx serves, without an interrupted change: file put back. */
  repaired: Repair[];
}

/**
 * The one-command repair: under the rollout lock, recovers every interrupted change (see
 * recoverTraffic), then puts back the file of any LB whose file still disagrees with what nginx
 * serves (repairLive: traffic unchanged). Changes no split that nginx serves.
 */
export async function recover(config: RolloutConfig, options: RolloutOptions = {}): Promise<RecoverResult> {
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  return withLock(config, 'recover', options, async (ctx, _lock, recovered) => {
    const lives = await readLives(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal });
    const repaired: Repair[] = [];
    for (const [k, l] of lives.entries()) {
      if (!l.drift || !l.live || l.interrupted) continue;
      const lb = config.loadBalancers[k];
      const r = await repairLive(lb, ctx.pool.get(lb), { signal: ctx.signal });
      repaired.push(r);
      if (!r.changed) continue;
      ctx.log.info(r.message);
      await appendHistory(ctx.store, {
        user: ctx.user,
        action: 'repaired',
        target: lb.name,
        before: { fileSplit: l.split ?? null },
        after: { split: l.live.split },
        result: `ok (${r.message})`,
      });
    }
    return { recovered, repaired };
  });
}
