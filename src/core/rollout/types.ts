import type { Logger } from '../log';
import type { OnProgress } from '../progress';

/** What every rollout operation takes: a logger, cancellation and progress reports. */
export interface OperationOptions {
  log?: Logger;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export type RolloutStatus = 'running' | 'paused' | 'failed' | 'done';

/** The rollout in progress (shared on the first LB's host, cached in `.rollout/state.json`), so anyone resumes where it was. */
export interface RolloutState {
  /** Bumped when the shape changes. */
  version: 1;
  status: RolloutStatus;
  /** The plan: traffic.steps when the rollout started. */
  steps: number[];
  /** Index in `steps` of the current split; -1 before the first step or when the split is off-plan. */
  stepIndex: number;
  /** Canary share the LBs carry (read back from them after each change). */
  split: number;
  /** Release id on the canary backends (from their current/release.json), when known. */
  canaryArtifact?: string;
  canaryVersion?: string;
  startedAt: string;
  updatedAt: string;
  /** Why it failed or stopped, or what happened last, in words. */
  message?: string;
  /** The last gate's measurement. */
  gate?: GateResult;
  /** How a `done` rollout ended: promoted, or rolled back by someone (the views say "rolled back", not "done"). */
  endedBy?: 'promote' | 'rollback';
  /** The runner's position in traffic.plan: the item observed, or the one after a passed pause. */
  planIndex?: number;
  /** The `run` that walks the plan, while it runs (a runner that died leaves it behind, no longer seen). */
  runner?: RunnerInfo;
  /** Who started the rollout (its first ramp). */
  startedBy?: string;
  /** The windows judged so far at the step being observed (a restarted runner observes the step again). */
  windows?: WindowBrief[];
}

/** One judged analysis window, as the team sees it in the shared state. */
export interface WindowBrief {
  split: number;
  /** 1-based, within the step. */
  window: number;
  verdict: string;
  fromMs: number;
  toMs: number;
  canary: { requests: number; errors: number; errorRate: number; p95Ms?: number };
  stable: { requests: number; errors: number; errorRate: number; p95Ms?: number };
}

/** Who runs the plan, and when its last window was judged. */
export interface RunnerInfo {
  user: string;
  host: string;
  pid: number;
  since: string;
  /** Updated at every window: a runner not seen for two intervals and a half has stopped. */
  seenAt: string;
  intervalMs: number;
}

/** Error rate and latency of one group, measured by a gate. */
export interface GroupSample {
  samples: number;
  errors: number;
  errorRate: number;
  p95Ms: number;
  /** A few distinct error descriptions. */
  errorExamples: string[];
}

export interface GateResult {
  pass: boolean;
  reason?: string;
  canary: GroupSample;
  stable?: GroupSample;
  limits: { maxErrorRate: number; maxP95Ms: number };
  time: string;
}

/** One line of `.rollout/history.jsonl`. */
export interface HistoryEvent {
  time: string;
  /** git user.email (or the OS user when git has none). */
  user: string;
  /** Ties a "started" event to its outcome (deploys and split changes record both). */
  id?: string;
  action: string;
  target?: string;
  before?: unknown;
  after?: unknown;
  /** "ok", or what went wrong. */
  result: string;
}
