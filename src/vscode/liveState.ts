import type { RolloutConfig } from '../core/config/rolloutConfig';
import type { Logger } from '../core/log';
import type { TransportPool } from '../core/exec/transportFor';
import type { HistoryEvent } from '../core/rollout/types';
import { backendStatus } from '../core/backends/status';
import { history, rolloutStatus } from '../core/rollout/status';
import { currentSplit } from '../core/rollout/shared';

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
  /** Canary share the LB's live file carries, or undefined when unreadable. */
  split?: number;
  error?: string;
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
    loadBalancers: (rollout?.loadBalancers ?? []).map((l) => ({ name: l.name, split: l.split, error: l.error })),
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
