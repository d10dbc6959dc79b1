import type { RolloutConfig } from '../core/config/rolloutConfig';
import type { Logger } from '../core/log';
import type { Settings } from './settings';

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
  split: number;
  step?: number;
  steps?: number[];
  canaryArtifact?: string;
  message?: string;
}

export interface LockView {
  owner: string;
  since: string;
  operation?: string;
}

export interface HistoryView {
  time: string;
  user: string;
  action: string;
  target?: string;
  before?: unknown;
  after?: unknown;
  result?: string;
}

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

/** Reads everything the rollout view shows, in parallel. */
export async function loadLiveState(
  _root: string,
  _config: RolloutConfig,
  _options: { log: Logger; signal: AbortSignal; settings: Settings },
): Promise<LiveState> {
  return { ...emptyLiveState(), refreshedAt: new Date() };
}
