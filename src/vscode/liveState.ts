import type { RolloutConfig } from '../core/config/rolloutConfig';
import { CancelledError, InputErrors, describeError } from '../core/errors';
import type { InputError } from '../core/errors';
import type { Logger } from '../core/log';
import { appliedProject } from '../core/rollout/appliedProject';
import type { AppliedProject } from '../core/rollout/appliedProject';
import type { TransportPool } from '../core/exec/transportFor';
import type { HistoryEvent } from '../core/rollout/types';
import { backendStatus } from '../core/backends/status';
import { history, rolloutStatus } from '../core/rollout/status';
import { currentSplit } from '../core/rollout/shared';
import { formatPercent } from './format';
import * as os from 'node:os';
import { ownerAlive } from '../core/traffic/intent';
import type { Intent } from '../core/traffic/live';

/** One backend as the views show it; `drift` comes from the core. */
export interface BackendView {
  name: string;
  group: 'stable' | 'canary';
  served?: string;
  deployed?: string;
  healthy: boolean;
  latencyMs?: number;
  error?: string;
  drift: boolean;
}

export interface LoadBalancerView {
  name: string;
  /** Canary share nginx SERVES (its status endpoint's answer), or undefined when unknown. */
  split?: number;
  /** What the LB's file says (differs from `split` when `drift` is set). */
  fileSplit?: number;
  /** The file and nginx disagree, in words with the fix ("file says 50 %, nginx serves 0 %: …"). */
  drift?: string;
  /** A change that did not finish (its owner is gone): Recover puts the LBs back. */
  interrupted?: boolean;
  /** A change in progress (its owner runs): who; file and nginx may differ until it is confirmed. */
  changing?: string;
  error?: string;
  /** Where the LB is (for the tooltip): its managed file, host and the generation nginx answered. */
  file?: string;
  host?: string;
  generation?: string;
}

/** How long a change on another host may run before the views call it interrupted (reconcile's default staleness). */
const REMOTE_CHANGE_S = 5 * 60;

/** True while the process that started `intent` runs: alive on this host, or young from another host. */
export function changeRunning(intent: Intent, ageS: number): boolean {
  return intent.host === os.hostname() ? ownerAlive(intent) : ageS < REMOTE_CHANGE_S;
}

/** "file 50 %, nginx serves 0 %" when an LB's file and nginx disagree (or a change did not finish); else undefined. */
export function disagreement(l: LoadBalancerView): string | undefined {
  if (!l.drift && !l.interrupted) return undefined;
  const served = l.split === undefined ? 'an unknown split' : formatPercent(l.split);
  if (l.interrupted) return `a change did not finish, nginx serves ${served}`;
  return `file ${l.fileSplit === undefined ? 'unreadable' : formatPercent(l.fileSplit)}, nginx serves ${served}`;
}

export interface RolloutView {
  status: string;
  /** What the LBs carry (the first LB's), else the state's. Views read the split only here. */
  split: number;
  step?: number;
  steps?: number[];
  canaryArtifact?: string;
  message?: string;
  /** How a done rollout ended (rollback: the row says "rolled back"). */
  endedBy?: 'promote' | 'rollback';
  /** The shared store (first LB's host) could not be read: this is the checkout's copy; why, and from when. */
  cached?: string;
}

export interface LockView {
  owner: string;
  since: string;
  operation?: string;
}

/** History rows are the core's events as they are. */
export type HistoryView = HistoryEvent;

export interface LiveState {
  backends: BackendView[];
  loadBalancers: LoadBalancerView[];
  rollout?: RolloutView;
  lock?: LockView;
  history: HistoryView[];
  refreshing: boolean;
  refreshedAt?: Date;
  error?: string;
  /**
   * rollout.json has errors and this state was read with the configuration the live split was last
   * applied with: where that came from, in words ("lb-1:/etc/nginx/app.conf.applied.json (applied …)").
   */
  appliedSource?: string;
}

export function emptyLiveState(): LiveState {
  return { backends: [], loadBalancers: [], history: [], refreshing: false };
}

/** Reads everything the rollout view shows, in parallel; one backend's trouble never fails the whole. */
export async function loadLiveState(
  config: RolloutConfig,
  options: { log: Logger; signal: AbortSignal; transports: TransportPool },
): Promise<LiveState> {
  const common = { log: options.log, signal: options.signal, transports: options.transports };
  // With an LB, the shared state, lock and history come in one round trip to the first LB's host.
  const [backends, rollout, events] = await Promise.all([
    backendStatus(config, common),
    config.loadBalancers.length > 0 ? rolloutStatus(config, { ...common, history: 200 }) : Promise.resolve(undefined),
    config.loadBalancers.length > 0 ? Promise.resolve(undefined) : history(config, { limit: 200 }),
  ]);
  // The same reading of the LBs as the core's ramp: the first LB's split (a warning in the log when they differ).
  const liveSplit = rollout ? currentSplit(rollout.loadBalancers, options.log) : undefined;
  const state = rollout?.state;
  return {
    backends: backends.map((b) => ({
      name: b.name,
      group: b.group,
      served: b.served,
      deployed: b.deployed,
      healthy: b.healthy,
      latencyMs: b.latencyMs,
      error: b.error,
      drift: b.drift,
    })),
    loadBalancers: (rollout?.loadBalancers ?? []).map((l) => {
      // A change still running (this window's own ramp, a teammate's) is not a disagreement to repair.
      const running = l.interrupted && changeRunning(l.interrupted, l.interruptedAgeS ?? 0);
      return {
        name: l.name,
        split: l.split,
        fileSplit: l.fileSplit,
        drift: running ? undefined : l.drift,
        interrupted: l.interrupted && !running ? true : undefined,
        changing: running ? l.interrupted!.owner : undefined,
        error: l.error ?? (l.split === undefined ? l.liveError : undefined),
        file: l.file,
        host: l.host,
        generation: l.live?.generation,
      };
    }),
    rollout:
      rollout && (state || liveSplit !== undefined)
        ? {
            status: state?.status ?? 'idle',
            split: liveSplit ?? state?.split ?? 0,
            step: state && state.stepIndex >= 0 ? state.stepIndex : undefined,
            steps: state?.steps,
            canaryArtifact: state?.canaryArtifact,
            message: state?.message,
            endedBy: state?.status === 'done' ? state.endedBy : undefined,
            ...(rollout.store?.cached ? { cached: rollout.store.cached } : {}),
          }
        : undefined,
    lock: rollout?.lock
      ? {
          owner: rollout.lock.owner,
          since: rollout.lock.since ?? new Date(Date.now() - rollout.lock.ageMs).toISOString(),
          operation: rollout.lock.operation,
        }
      : undefined,
    history: events ?? rollout?.history ?? [],
    refreshing: false,
    refreshedAt: new Date(),
  };
}

/** What the views show while rollout.json has errors: the live state read with the last applied configuration. */
export interface EmergencyState {
  /** undefined: no applied configuration could be found (`live.error` says why). */
  applied?: AppliedProject;
  live: LiveState;
}

/**
 * The emergency path of the views: rollout.json has `errors`, so the LBs and the configuration
 * their live split was applied with are found as the CLI finds them (appliedProject: a lenient parse
 * of rollout.json, else `.rollout/loadBalancers.json`; then `<file>.applied.json` on the LB), through
 * the extension's transports (its ssh settings), and the live state is read with that configuration.
 */
export async function loadEmergencyState(
  root: string,
  errors: readonly InputError[],
  options: { log: Logger; signal: AbortSignal; transports: TransportPool },
): Promise<EmergencyState> {
  let applied: AppliedProject;
  try {
    applied = await appliedProject(root, new InputErrors([...errors]), options);
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    const why = err instanceof InputErrors ? err.errors[err.errors.length - 1].message : describeError(err);
    return { live: { ...emptyLiveState(), refreshedAt: new Date(), error: why } };
  }
  const live = await loadLiveState(applied.config, options);
  return { applied, live: { ...live, appliedSource: applied.source } };
}
