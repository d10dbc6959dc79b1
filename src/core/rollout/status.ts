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
import { readLock } from './lock';
import type { LockHolder } from '../exec/hostLock';
import { StateFileError, readState } from './state';
import type { HistoryEvent, RolloutState } from './types';

export interface RolloutStatusView {
  state?: RolloutState;
  /** state.json exists but is corrupt: which file, and what to do (then `state` is undefined). */
  stateError?: string;
  /** What every LB serves (`split`: nginx's answer, see LbStatus), next to what its file says. */
  loadBalancers: LbStatus[];
  lock?: LockHolder;
  lockError?: string;
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

/** Everything the rollout view shows (state, live splits, lock), read in parallel; never locks. */
export async function rolloutStatus(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutStatusView> {
  return withContext(config, options, async (ctx) => {
    const transportOf = (t: { ssh?: string }) => ctx.pool.get(t);
    const [state, live, lock] = await Promise.all([
      readState(config.projectDir).then(
        (s) => ({ s, error: undefined as string | undefined }),
        (err) => {
          if (!(err instanceof StateFileError)) throw err;
          return { s: undefined, error: describeError(err) };
        },
      ),
      readLives(config, transportOf, { signal: ctx.signal }),
      readLock(config, transportOf, { staleMs: options.staleMs }).then(
        (l) => ({ l, error: undefined as string | undefined }),
        (err) => {
          if (err instanceof CancelledError) throw err;
          return { l: undefined, error: describeError(err) };
        },
      ),
    ]);
    return {
      state: state.s,
      ...(state.error ? { stateError: state.error } : {}),
      loadBalancers: live.map(lbStatus),
      lock: lock.l,
      lockError: lock.error,
    };
  });
}

/** Torn lines already reported by this process: each is said once, however often the history is read. */
const reported = new Set<string>();

/**
 * The history, oldest first; `limit` keeps the newest. A torn line (kept in the file, skipped here) is
 * reported once per process through `log`.
 */
export function history(
  config: Pick<RolloutConfig, 'projectDir'>,
  options: { limit?: number; log?: Pick<Logger, 'warn'> } = {},
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
