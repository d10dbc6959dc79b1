import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, describeError } from '../errors';
import type { Logger } from '../log';
import { safeText } from '../safeText';
import { readSplits } from '../traffic/apply';
import type { LbSplit } from '../traffic/apply';
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
      readState(config.projectDir).then(
        (s) => ({ s, error: undefined as string | undefined }),
        (err) => {
          if (!(err instanceof StateFileError)) throw err;
          return { s: undefined, error: describeError(err) };
        },
      ),
      readSplits(config, transportOf, { signal: ctx.signal }),
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
      loadBalancers: live.map(({ text: _text, ...rest }) => rest),
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
