/**
 * The `analysis` section of rollout.json: how often a window is judged, how long a step is
 * observed, and the limits. Durations are written "30s", "5m", "1h" (or a number of ms).
 */

/** What to do when a step's observation ends inconclusive (too little canary traffic). */
export type OnInconclusive = 'pause' | 'extend';

/** The limits a window is judged against. */
export interface AnalysisLimits {
  /** Absolute: the canary's error rate must not be above this (0–1). */
  maxErrorRate: number;
  /** Absolute: the canary's p95 upstream response time must not be above this (ms). */
  maxP95Ms: number;
  /** Relative: canary error rate minus stable error rate must not be above this (0–1). */
  maxErrorRateIncrease: number;
  /** Relative: canary p95 must not be above this many times stable's p95 … */
  maxP95Ratio: number;
  /** … unless it is at most this many ms above stable's (a 2 ms → 5 ms p95 is no regression). */
  p95ToleranceMs: number;
}

/** The `analysis` section as written in rollout.json (everything optional). */
export interface AnalysisConfigInput {
  interval?: string | number;
  observe?: string | number;
  minRequests?: number;
  limits?: Partial<AnalysisLimits>;
  confidence?: number;
  failureLimit?: number;
  onInconclusive?: OnInconclusive;
  extendLimit?: string | number;
  autoPromote?: boolean;
  errorStatuses?: string[];
}

/** The `analysis` section with defaults applied and durations in ms. */
export interface AnalysisConfig {
  /** One window: how often the log is read and judged. */
  intervalMs: number;
  /** Default time a step is observed before the next one (a step's own `observe` wins). */
  observeMs: number;
  /** Canary attempts a window needs before it can pass; fewer is inconclusive. */
  minRequests: number;
  limits: AnalysisLimits;
  /** Confidence of the statistical tests (0.5–0.9999): a check fails only when its test is significant. */
  confidence: number;
  /** Failed windows in a step that fail the step (1: the first failed window rolls back). */
  failureLimit: number;
  /** Inconclusive at the end of a step: pause for a person, or keep observing up to `extendLimitMs`. */
  onInconclusive: OnInconclusive;
  /** How long past `observe` a step may be extended before it pauses anyway. */
  extendLimitMs: number;
  /** Promote the canary after the last step passed. */
  autoPromote: boolean;
  /** Upstream statuses that count as errors: "5xx"-style classes or exact codes ("429"). No response ("-") always counts. */
  errorStatuses: string[];
}

/** Defaults for every field. */
export const DEFAULT_ANALYSIS: Readonly<AnalysisConfig> = Object.freeze({
  intervalMs: 60_000,
  observeMs: 300_000,
  minRequests: 50,
  limits: Object.freeze({ maxErrorRate: 0.01, maxP95Ms: 1000, maxErrorRateIncrease: 0.005, maxP95Ratio: 1.25, p95ToleranceMs: 25 }),
  confidence: 0.95,
  failureLimit: 1,
  onInconclusive: 'pause' as const,
  extendLimitMs: 600_000,
  autoPromote: false,
  errorStatuses: Object.freeze(['5xx']) as unknown as string[],
});

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "90s", "5m", "1h30m", "250ms" or a number of ms → ms; undefined when it is not a duration. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  const text = value.trim();
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  return matched > 0 && matched === text.length ? Math.round(total) : undefined;
}

/**
 * Applies defaults and converts durations. Throws an Error naming the field (`analysis.interval`)
 * for a value the schema lets through but that cannot be used; the caller locates it in the file.
 */
export function resolveAnalysisConfig(input: AnalysisConfigInput = {}): AnalysisConfig {
  const d = DEFAULT_ANALYSIS;
  const duration = (field: string, v: string | number | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) throw new Error(`analysis.${field}: "${v}" is not a duration; write e.g. "30s", "5m" or "1h"`);
    return ms;
  };
  const cfg: AnalysisConfig = {
    intervalMs: duration('interval', input.interval, d.intervalMs),
    observeMs: duration('observe', input.observe, d.observeMs),
    minRequests: input.minRequests ?? d.minRequests,
    limits: { ...d.limits, ...input.limits },
    confidence: input.confidence ?? d.confidence,
    failureLimit: input.failureLimit ?? d.failureLimit,
    onInconclusive: input.onInconclusive ?? d.onInconclusive,
    extendLimitMs: duration('extendLimit', input.extendLimit, d.extendLimitMs),
    autoPromote: input.autoPromote ?? d.autoPromote,
    errorStatuses: [...(input.errorStatuses ?? d.errorStatuses)],
  };
  if (cfg.intervalMs > cfg.observeMs) {
    throw new Error(
      `analysis.interval (${cfg.intervalMs} ms) is longer than analysis.observe (${cfg.observeMs} ms); make the interval shorter`,
    );
  }
  errorStatusTest(cfg.errorStatuses);
  return cfg;
}

/** A predicate for "this upstream status is an error" from entries like "5xx" or "429". */
export function errorStatusTest(spec: readonly string[]): (status: number) => boolean {
  const table = new Uint8Array(600);
  for (const s of spec) {
    const cls = /^([1-5])xx$/i.exec(s);
    if (cls) table.fill(1, Number(cls[1]) * 100, Number(cls[1]) * 100 + 100);
    else if (/^[1-5]\d\d$/.test(s)) table[Number(s)] = 1;
    else throw new Error(`analysis.errorStatuses: "${s}" is neither a status class like "5xx" nor a status like "429"`);
  }
  return (status) => status >= 0 && status < 600 && table[status] === 1;
}

/** JSON-schema fragment for `analysis` (draft-07, as schema/rollout.schema.json uses). */
export const ANALYSIS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'How the canary is judged on real traffic from the load balancers’ access logs.',
  properties: {
    interval: { $ref: '#/definitions/duration', description: 'One analysis window. Default "1m".' },
    observe: { $ref: '#/definitions/duration', description: 'How long a step is observed unless the step says otherwise. Default "5m".' },
    minRequests: {
      type: 'integer',
      minimum: 1,
      default: 50,
      description: 'Canary requests a window needs to pass; fewer is inconclusive (never a pass).',
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxErrorRate: { type: 'number', minimum: 0, maximum: 1, default: 0.01, description: 'Absolute limit on the canary error rate.' },
        maxP95Ms: { type: 'number', exclusiveMinimum: 0, default: 1000, description: 'Absolute limit on the canary p95 (ms).' },
        maxErrorRateIncrease: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          default: 0.005,
          description: 'Canary error rate minus stable error rate, same window.',
        },
        maxP95Ratio: { type: 'number', minimum: 1, default: 1.25, description: 'Canary p95 divided by stable p95, same window.' },
        p95ToleranceMs: {
          type: 'number',
          minimum: 0,
          default: 25,
          description: 'A p95 at most this many ms above stable is never a regression.',
        },
      },
    },
    confidence: {
      type: 'number',
      minimum: 0.5,
      maximum: 0.9999,
      default: 0.95,
      description: 'A check fails only when its statistical test is significant at this confidence.',
    },
    failureLimit: { type: 'integer', minimum: 1, default: 1, description: 'Failed windows that fail the step.' },
    onInconclusive: {
      enum: ['pause', 'extend'],
      default: 'pause',
      description: 'Too little canary traffic at the end of a step: pause, or keep observing up to extendLimit.',
    },
    extendLimit: { $ref: '#/definitions/duration', description: 'How long past observe a step may be extended. Default "10m".' },
    autoPromote: { type: 'boolean', default: false, description: 'Promote the canary after the last step passed.' },
    errorStatuses: {
      type: 'array',
      items: { type: 'string', pattern: '^([1-5]xx|[1-5][0-9]{2})$' },
      default: ['5xx'],
      description: 'Upstream statuses that count as errors ("5xx", "429"); no response always counts.',
    },
  },
  definitions: {
    duration: {
      oneOf: [
        { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$' },
        { type: 'integer', minimum: 1, description: 'milliseconds' },
      ],
    },
  },
} as const;
