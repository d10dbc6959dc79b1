/**
 * Window metrics per side (canary, stable): attempts, errors, latency histogram, top error paths.
 * Memory is bounded whatever the traffic: one fixed histogram per side and at most
 * MAX_PATHS distinct error paths per side (later new paths are summed as "(other paths)").
 */
import type { AccessLogEntry } from './accessLog';
import type { Attributor } from './attribution';
import { LatencyHistogram } from './histogram';

/** Distinct error paths kept per side; enough to name the culprit, small enough to bound memory. */
export const MAX_PATHS = 256;
/** The bucket for error paths beyond MAX_PATHS. */
export const OTHER_PATHS = '(other paths)';

/** Figures of one side in one window, as reported (JSON-exact; paths are foreign text). */
export interface SideSummary {
  /** Attempts that went to this side's backends. */
  requests: number;
  errors: number;
  /** errors / requests, 0 when there were none. */
  errorRate: number;
  /** Upstream response time percentiles in ms (undefined without samples). */
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  /** Up to 5 paths with the most errors, most first. */
  topErrors: Array<{ path: string; errors: number }>;
}

/** Accumulates one side. */
export class SideMetrics {
  requests = 0;
  errors = 0;
  readonly latency = new LatencyHistogram();
  private readonly errorPaths = new Map<string, number>();

  addAttempt(failed: boolean, timeMs: number | undefined, path: string): void {
    this.requests++;
    if (timeMs !== undefined) this.latency.add(timeMs);
    if (failed) {
      this.errors++;
      const key = this.errorPaths.has(path) || this.errorPaths.size < MAX_PATHS ? path : OTHER_PATHS;
      this.errorPaths.set(key, (this.errorPaths.get(key) ?? 0) + 1);
    }
  }

  /** Adds another window's figures (a step's total from its windows). */
  merge(other: SideMetrics): void {
    this.requests += other.requests;
    this.errors += other.errors;
    this.latency.merge(other.latency);
    for (const [p, n] of other.errorPaths) {
      const key = this.errorPaths.has(p) || this.errorPaths.size < MAX_PATHS ? p : OTHER_PATHS;
      this.errorPaths.set(key, (this.errorPaths.get(key) ?? 0) + n);
    }
  }

  summary(top = 5): SideSummary {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests === 0 ? 0 : this.errors / this.requests,
      p50Ms: this.latency.quantile(0.5),
      p95Ms: this.latency.quantile(0.95),
      p99Ms: this.latency.quantile(0.99),
      topErrors: [...this.errorPaths]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, top)
        .map(([path, errors]) => ({ path, errors })),
    };
  }
}

/** What a window did not count, so a reader can tell "no traffic" from "traffic we could not use". */
export interface WindowCounters {
  /** Requests counted (with at least one attempt on a configured backend). */
  requests: number;
  /** Requests nginx answered itself (no upstream) or whose attempts all went to unknown addresses. */
  unattributed: number;
  /** Requests outside [fromMs, toMs). */
  outside: number;
}

/** Options of a window. */
export interface WindowOptions {
  /** Is this upstream status an error? (from `errorStatusTest(config.errorStatuses)`) */
  isError: (status: number) => boolean;
  /** Count only requests that ended at or after this time (ms since epoch), e.g. the step's confirmed-live time. */
  fromMs?: number;
  /** … and before this time. */
  toMs?: number;
}

/** One analysis window: entries in, per-side figures out. Pure: takes entries, not hosts. */
export class Window {
  readonly canary = new SideMetrics();
  readonly stable = new SideMetrics();
  readonly counters: WindowCounters = { requests: 0, unattributed: 0, outside: 0 };

  constructor(
    private readonly attributor: Attributor,
    private readonly options: WindowOptions,
  ) {}

  /**
   * Counts one request. Each attempt counts for its backend's side: an attempt with no response
   * ("-") or an error status is an error, except the last attempt of a request the client
   * abandoned (499), which is the client's doing.
   */
  add(entry: AccessLogEntry): void {
    const { fromMs, toMs, isError } = this.options;
    if ((fromMs !== undefined && entry.timeMs < fromMs) || (toMs !== undefined && entry.timeMs >= toMs)) {
      this.counters.outside++;
      return;
    }
    const attempts = this.attributor.attempts(entry);
    let counted = false;
    attempts.forEach((a, i) => {
      if (a.side === 'other') return;
      const last = i === attempts.length - 1;
      const failed = a.status === undefined ? !(last && entry.status === 499) : isError(a.status);
      (a.side === 'canary' ? this.canary : this.stable).addAttempt(failed, a.timeMs, entry.uri);
      counted = true;
    });
    if (counted) this.counters.requests++;
    else this.counters.unattributed++;
  }

  /** Adds many entries. */
  addAll(entries: Iterable<AccessLogEntry>): this {
    for (const e of entries) this.add(e);
    return this;
  }
}
