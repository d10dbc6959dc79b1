import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, describeError } from '../errors';
import type { Logger } from '../log';
import { safeText } from '../safeText';
import { readLives, servedSplit } from '../traffic/live';
import type { LiveSplit } from '../traffic/live';
import { formatSplit } from '../traffic/render';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { readHistory } from './history';
import type { TornLine } from './history';
import { lockLocation, readLock } from './lock';
import { LOCK_STALE_MS, judge } from '../exec/hostLock';
import type { LockHolder } from '../exec/hostLock';
import type { HistoryEvent, RolloutState } from './types';

export interface RolloutStatusView {
  state?: RolloutState;
  /** state.json exists but is corrupt: which file, and what to do (then `state` is undefined). */
  stateError?: string;
  /** What every LB serves (`split`: nginx's answer, see LbStatus), next to what its file says. */
  loadBalancers: LbStatus[];
  lock?: LockHolder;
  lockError?: string;
  /** Where the rollout's state and history live; `cached`: the host could not be read, this is the checkout's copy (why, from when). */
  store?: { where: string; shared: boolean; cached?: string };
  /** The newest `history` events (when asked), read in the same round trip as the state. */
  history?: HistoryEvent[];
}

/**
 * One LB in the status: `split` is what nginx SERVES (the generation its status endpoint answers;
 * for a file older than generations, the file's header), `fileSplit` what the file says. When they
 * differ, `drift` says so in words with the command that fixes it.
 */
export interface LbStatus extends Omit<LiveSplit, 'text' | 'split'> {
  split?: number;
  fileSplit?: number;
}

const pct = (s: number | null | undefined) => (s === null || s === undefined ? 'no managed split' : `${formatSplit(s)} %`);

/** The status of one LB from readLive: the served split first, and the disagreement explained. */
export function lbStatus(l: LiveSplit): LbStatus {
  const { text: _text, split: fileSplit, ...rest } = l;
  const split = servedSplit(l);
  const out: LbStatus = { ...rest, split, fileSplit };
  if (l.interrupted) {
    const i = l.interrupted;
    const who = `${safeText(i.owner)} (pid ${i.pid} on ${safeText(i.host)}, started ${safeText(i.time)})`;
    const served = l.live ? pct(l.live.split) : 'an unknown split';
    out.drift =
      l.live && l.live.generation === l.generation
        ? `a change to ${pct(i.split)} by ${who} did not finish; nginx serves ${served}`
        : `file says ${pct(fileSplit)}, nginx serves ${served}: a change to ${pct(i.split)} by ${who} did not finish`;
    out.drift += `; if that process is gone, run "phar-rollout recover" (any ramp, rollback or promote also recovers first) to put every load balancer back on its last confirmed split and record it`;
  } else if (l.drift) {
    out.drift = `${l.drift.replace(/^file /, 'file says ')}: run "phar-rollout recover" to put the file back to what nginx serves (traffic unchanged)`;
  }
  return out;
}

/**
 * Everything the rollout view shows (the shared state, the lock and, with `history`, the newest
 * events: one round trip to the first LB's host; the live splits of every LB beside it, in
 * parallel); never locks. A store that cannot be reached shows the checkout's copy, marked.
 */
export async function rolloutStatus(
  config: RolloutConfig,
  options: RolloutOptions & { history?: number } = {},
): Promise<RolloutStatusView> {
  return withContext(config, options, async (ctx) => {
    const transportOf = (t: { ssh?: string }) => ctx.pool.get(t);
    const shared = ctx.store.shared && config.loadBalancers.length > 0;
    const [read, live, lock] = await Promise.all([
      ctx.store.read({ lock: shared, signal: ctx.signal }),
      readLives(config, transportOf, { signal: ctx.signal }),
      shared ? Promise.resolve(undefined) : lockOf(readLock(config, transportOf, { staleMs: options.staleMs })),
    ]);
    let held = lock;
    if (shared && !read.cached) {
      const site = lockLocation(config, transportOf);
      // A lock caught between its mkdir and its owner file: read it again the careful way.
      held =
        read.lock && !read.lock.owner
          ? await lockOf(readLock(config, transportOf, { staleMs: options.staleMs }))
          : { l: read.lock && judge(read.lock, site.where, options.staleMs ?? LOCK_STALE_MS) };
    } else if (shared) held = { l: undefined, error: 'not read: the store could not be reached' };
    return {
      state: read.state,
      ...(read.stateError ? { stateError: describeError(read.stateError) } : {}),
      loadBalancers: live.map(lbStatus),
      lock: held?.l,
      lockError: held?.error,
      store: { where: ctx.store.where, shared: ctx.store.shared, ...(read.cached ? { cached: read.cached } : {}) },
      ...(options.history !== undefined ? { history: await localHistory(config, { limit: options.history, log: options.log }) } : {}),
    };
  });
}

function lockOf(p: Promise<LockHolder | undefined>): Promise<{ l?: LockHolder; error?: string }> {
  return p.then(
    (l) => ({ l }),
    (err) => {
      if (err instanceof CancelledError) throw err;
      return { l: undefined, error: describeError(err) };
    },
  );
}

/** Torn lines already reported by this process: each is said once, however often the history is read. */
const reported = new Set<string>();

/**
 * The rollout's history, oldest first (the shared one, synced into the checkout's copy first: one
 * round trip; the copy alone when the host cannot be reached); `limit` keeps the newest. A torn line
 * (kept in the file, skipped here) is reported once per process through `log`.
 */
export async function history(
  config: Pick<RolloutConfig, 'projectDir' | 'loadBalancers'>,
  options: { limit?: number; log?: Logger; transports?: RolloutOptions['transports']; signal?: AbortSignal } = {},
): Promise<HistoryEvent[]> {
  await withContext(config, { transports: options.transports, log: options.log, signal: options.signal }, (ctx) =>
    ctx.store.read({ signal: ctx.signal }),
  );
  return localHistory(config, options);
}

/** The checkout's copy of the history (see history). */
function localHistory(
  config: Pick<RolloutConfig, 'projectDir'>,
  options: { limit?: number; log?: Pick<Logger, 'warn'> },
): Promise<HistoryEvent[]> {
  return readHistory(config.projectDir, {
    limit: options.limit,
    onTorn: (t: TornLine) => {
      const key = `${t.file}:${t.line}:${t.text}`;
      if (reported.has(key)) return;
      reported.add(key);
      options.log?.warn(
        `${t.file}:${t.line}: not a history event (cut short by a crash?), skipped and kept in the file: ${safeText(t.text, 80)}`,
      );
    },
  });
}
