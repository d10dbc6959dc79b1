import type { RolloutConfig } from '../config/rolloutConfig';
import { restoreDrained } from '../backends/drain';
import { OperationError, describeError } from '../errors';
import { safeText } from '../safeText';
import { ownerAlive, reconcile } from '../traffic/intent';
import type { Recovered } from '../traffic/intent';
import type { OpContext } from './context';
import { appendHistory } from './history';

export type { Recovered } from '../traffic/intent';

/**
 * Run under the rollout lock before anything changes: puts back every LB an interrupted change left
 * (see reconcile), records each as a "recovered" history event and warns with its description.
 * Under the lock no other change can be running, so an unfinished intent of THIS process is a
 * leftover too (the extension host outlives its operations). An intent whose owner is alive
 * elsewhere (a change made without the lock) is refused with `required`, skipped with a warning
 * with `bestEffort` (an emergency traffic rollback must not be blocked by it).
 * Then backends a killed deploy left drained go back in rotation (restoreDrained), each recorded.
 */
export async function recoverTraffic(config: RolloutConfig, ctx: OpContext, mode: 'required' | 'bestEffort'): Promise<Recovered[]> {
  if (config.loadBalancers.length === 0) return [];
  let result;
  try {
    ctx.progress('checking the load balancers for an interrupted change');
    result = await reconcile(config, (lb) => ctx.pool.get(lb), {
      log: ctx.log,
      signal: ctx.signal,
      ownerAlive: (i) => i.pid !== process.pid && ownerAlive(i),
    });
  } catch (err) {
    if (mode === 'required') throw err;
    ctx.log.warn(`recovering an interrupted change failed (going on): ${describeError(err)}`);
    return [];
  }
  for (const r of result.recovered) {
    ctx.log.warn(r.description);
    const same = r.loadBalancers.every((l) => l.split === r.loadBalancers[0]?.split);
    await appendHistory(ctx.store, {
      user: ctx.user,
      action: 'recovered',
      target: r.loadBalancers.map((l) => l.name).join(', '),
      before: { split: r.interruptedSplit, owner: r.owner, pid: r.pid, host: r.host, startedAt: r.time, op: r.op },
      after: same
        ? { split: r.loadBalancers[0]?.split ?? null }
        : { split: r.loadBalancers[0]?.split ?? null, loadBalancers: Object.fromEntries(r.loadBalancers.map((l) => [l.name, l.split])) },
      result: `ok (${r.description})`,
    });
  }
  await recoverDrains(config, ctx, mode);
  if (result.busy.length > 0) {
    const who = result.busy
      .map((b) => `${safeText(b.owner)} (pid ${b.pid} on ${safeText(b.host)}, ${Math.round(b.ageS)} s ago)`)
      .join(', ');
    const message = `a change by ${who} is still running on the load balancers without holding the rollout lock`;
    if (mode === 'required')
      throw new OperationError(`${message}: wait for it to finish, or stop that process; nothing was changed`, {
        step: 'recover',
        lb: config.loadBalancers[0].name,
      });
    ctx.log.warn(`${message} (going on)`);
  }
  return result.recovered;
}

/** Backends a killed deploy or rollback left `down` (its drain journal on the LBs): back in rotation, recorded. */
async function recoverDrains(config: RolloutConfig, ctx: OpContext, mode: 'required' | 'bestEffort'): Promise<void> {
  let restored;
  try {
    // Under the lock, a journal of this very process is a leftover too (see above).
    restored = await restoreDrained(config, ctx.pool, {
      log: ctx.log,
      signal: ctx.signal,
      isAlive: (j) => j.pid !== process.pid && ownerAlive({ pid: j.pid, pidStart: j.pidStart } as Parameters<typeof ownerAlive>[0]),
    });
  } catch (err) {
    if (mode === 'required') throw err;
    ctx.log.warn(`putting back backends a killed deploy left out of rotation failed (going on): ${describeError(err)}`);
    return;
  }
  for (const r of restored) {
    ctx.log.warn(r.description);
    await appendHistory(ctx.store, {
      user: ctx.user,
      action: 'recovered',
      target: config.loadBalancers.map((l) => l.name).join(', '),
      before: { drained: [...r.restored, ...r.kept.map((k) => k.backend)], owner: r.owner, pid: r.pid, host: r.host, startedAt: r.time },
      after: { inRotation: r.restored, down: r.kept.map((k) => k.backend) },
      result: `${r.kept.length ? 'partly' : 'ok'} (${r.description})`,
    });
  }
}

/** `{ recovered }` when an interrupted change was recovered first, else nothing (keeps --json as it was). */
export function recoveredField(recovered: Recovered[]): { recovered?: Recovered[] } {
  return recovered.length ? { recovered } : {};
}
