/**
 * The judge: a window's canary figures against absolute limits and against stable in the same
 * window. A check fails only when the limit is exceeded AND a one-sided test says so at the
 * configured confidence, so one unlucky error in 60 requests is not a rollback, while 30 errors in
 * 40 requests fail at once even below minRequests. Too few canary requests with no failed check
 * is inconclusive, never a pass.
 */
import type { AnalysisConfig } from './analysisConfig';
import type { SideMetrics, SideSummary } from './metrics';
import { binomialUpperTail, fisherGreater, mannWhitneyGreater } from './statistics';

export type VerdictResult = 'pass' | 'fail' | 'inconclusive';

/** One check of a verdict, with its figures. */
export interface Check {
  name: 'errorRate' | 'p95' | 'errorRateIncrease' | 'p95Ratio';
  result: 'pass' | 'fail' | 'skipped';
  /** The canary's figure (a rate, ms, a difference or a ratio). */
  observed?: number;
  limit?: number;
  /** One-sided p-value of the test behind the check (fails need pValue < 1 − confidence). */
  pValue?: number;
  /** Which test: "binomial", "fisher", "mann-whitney". */
  test?: string;
  /** One sentence for people. */
  reason: string;
}

/** A window's (or a step's) verdict: result, the figures it was made from, and why. */
export interface Verdict {
  result: VerdictResult;
  canary: SideSummary;
  stable: SideSummary;
  checks: Check[];
  /** The sentences that decided the result (failed checks, or why inconclusive, or why passed). */
  reasons: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const p = (x: number) => (x < 0.0001 ? x.toExponential(1) : x.toFixed(4));

/** Judges canary against stable (pure: figures in, verdict out). */
export function judgeWindow(canary: SideMetrics, stable: SideMetrics, config: AnalysisConfig): Verdict {
  const alpha = 1 - config.confidence;
  const L = config.limits;
  const c = canary.summary();
  const s = stable.summary();
  const checks: Check[] = [];

  // Absolute error rate: exact binomial test of "true rate > maxErrorRate".
  {
    const pv = binomialUpperTail(c.errors, c.requests, L.maxErrorRate);
    const fail = c.requests > 0 && c.errorRate > L.maxErrorRate && pv < alpha;
    checks.push({
      name: 'errorRate',
      result: c.requests === 0 ? 'skipped' : fail ? 'fail' : 'pass',
      observed: c.errorRate,
      limit: L.maxErrorRate,
      pValue: pv,
      test: 'binomial',
      reason: fail
        ? `canary error rate ${pct(c.errorRate)} (${c.errors}/${c.requests}) is above the limit ${pct(L.maxErrorRate)} (p = ${p(pv)})`
        : `canary error rate ${pct(c.errorRate)} (${c.errors}/${c.requests}), limit ${pct(L.maxErrorRate)}`,
    });
  }

  // Absolute p95: if p95 ≤ limit then at most 5 % of samples are above it; binomial test on the count above.
  if (c.p95Ms === undefined) {
    checks.push({ name: 'p95', result: 'skipped', limit: L.maxP95Ms, reason: 'no canary response times in this window' });
  } else {
    const n = canary.latency.count;
    const above = canary.latency.countAbove(L.maxP95Ms);
    const pv = binomialUpperTail(above, n, 0.05);
    const fail = c.p95Ms > L.maxP95Ms && pv < alpha;
    checks.push({
      name: 'p95',
      result: fail ? 'fail' : 'pass',
      observed: c.p95Ms,
      limit: L.maxP95Ms,
      pValue: pv,
      test: 'binomial',
      reason: fail
        ? `canary p95 ${c.p95Ms} ms is above the limit ${L.maxP95Ms} ms (${above}/${n} slower, p = ${p(pv)})`
        : `canary p95 ${c.p95Ms} ms, limit ${L.maxP95Ms} ms`,
    });
  }

  const stableEnough = s.requests >= config.minRequests;
  const skipWhy = `stable had ${s.requests} requests (fewer than ${config.minRequests}): relative checks skipped`;

  // Relative error rate: one-sided Fisher exact test "canary rate > stable rate".
  if (!stableEnough || c.requests === 0) {
    checks.push({ name: 'errorRateIncrease', result: 'skipped', limit: L.maxErrorRateIncrease, reason: skipWhy });
  } else {
    const diff = c.errorRate - s.errorRate;
    const pv = fisherGreater(c.errors, c.requests, s.errors, s.requests);
    const fail = diff > L.maxErrorRateIncrease && pv < alpha;
    checks.push({
      name: 'errorRateIncrease',
      result: fail ? 'fail' : 'pass',
      observed: diff,
      limit: L.maxErrorRateIncrease,
      pValue: pv,
      test: 'fisher',
      reason: fail
        ? `canary error rate ${pct(c.errorRate)} is ${pct(diff)} above stable's ${pct(s.errorRate)} (limit +${pct(L.maxErrorRateIncrease)}, p = ${p(pv)})`
        : `canary error rate ${pct(c.errorRate)} vs stable ${pct(s.errorRate)}`,
    });
  }

  // Relative latency: p95 ratio and Mann–Whitney U "canary slower than stable".
  if (!stableEnough || c.p95Ms === undefined || s.p95Ms === undefined) {
    checks.push({
      name: 'p95Ratio',
      result: 'skipped',
      limit: L.maxP95Ratio,
      reason: stableEnough ? 'no response times to compare' : skipWhy,
    });
  } else {
    const ratio = s.p95Ms > 0 ? c.p95Ms / s.p95Ms : c.p95Ms > 0 ? Infinity : 1;
    const mw = mannWhitneyGreater(canary.latency, stable.latency);
    const fail = ratio > L.maxP95Ratio && c.p95Ms - s.p95Ms > L.p95ToleranceMs && mw.pValue < alpha;
    checks.push({
      name: 'p95Ratio',
      result: fail ? 'fail' : 'pass',
      observed: ratio,
      limit: L.maxP95Ratio,
      pValue: mw.pValue,
      test: 'mann-whitney',
      reason: fail
        ? `canary p95 ${c.p95Ms} ms is ${ratio.toFixed(2)}× stable's ${s.p95Ms} ms (limit ${L.maxP95Ratio}×, +${L.p95ToleranceMs} ms tolerated; Mann–Whitney p = ${p(mw.pValue)})`
        : `canary p95 ${c.p95Ms} ms vs stable ${s.p95Ms} ms`,
    });
  }

  const failed = checks.filter((k) => k.result === 'fail');
  if (failed.length > 0) return { result: 'fail', canary: c, stable: s, checks, reasons: failed.map((k) => k.reason) };
  if (c.requests < config.minRequests) {
    return {
      result: 'inconclusive',
      canary: c,
      stable: s,
      checks,
      reasons: [`only ${c.requests} canary requests (at least ${config.minRequests} needed): keep observing; this is not a pass`],
    };
  }
  const reasons = [`${c.requests} canary requests within every limit at ${config.confidence * 100} % confidence`];
  if (!stableEnough) reasons.push(skipWhy);
  return { result: 'pass', canary: c, stable: s, checks, reasons };
}

/** What the runner does next with a step. */
export type StepDecision = 'continue' | 'pass' | 'fail' | 'extend' | 'pause';

/**
 * The step's next move (pure): fail once `failureLimit` windows failed; keep observing until the
 * step's time is up; then the verdict over the whole step decides, and inconclusive extends (up to
 * `extendLimitMs` past observe) or pauses as configured.
 */
export function decideStep(
  p: { failedWindows: number; stepVerdict: VerdictResult; elapsedMs: number; observeMs: number },
  config: Pick<AnalysisConfig, 'failureLimit' | 'onInconclusive' | 'extendLimitMs'>,
): StepDecision {
  if (p.failedWindows >= config.failureLimit) return 'fail';
  if (p.elapsedMs < p.observeMs) return 'continue';
  switch (p.stepVerdict) {
    case 'pass':
      return 'pass';
    case 'fail':
      return 'fail';
    case 'inconclusive':
      return config.onInconclusive === 'extend' && p.elapsedMs < p.observeMs + config.extendLimitMs ? 'extend' : 'pause';
  }
}
