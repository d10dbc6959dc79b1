import assert from 'node:assert/strict';
import { DEFAULT_ANALYSIS, parseDuration, resolveAnalysisConfig, ANALYSIS_SCHEMA } from '../../src/core/analysis/analysisConfig';
import { decideStep, judgeWindow } from '../../src/core/analysis/judge';
import { SideMetrics } from '../../src/core/analysis/metrics';
import Ajv from 'ajv';

const cfg = resolveAnalysisConfig({ minRequests: 50, confidence: 0.95 });

/** A side with `n` attempts, `errors` of them failed on `path`, latencies from `latency(i)`. */
function side(n: number, errors: number, latency: (i: number) => number = (i) => 20 + (i % 10), path = '/checkout'): SideMetrics {
  const s = new SideMetrics();
  for (let i = 0; i < n; i++) s.addAttempt(i < errors, latency(i), i < errors ? path : '/');
  return s;
}

describe('analysis judge', () => {
  it('passes a healthy canary and carries its numbers', () => {
    const v = judgeWindow(side(200, 0), side(2000, 2), cfg);
    assert.equal(v.result, 'pass');
    assert.equal(v.canary.requests, 200);
    assert.equal(v.canary.p95Ms, 29);
    assert.equal(v.stable.errors, 2);
    assert.deepEqual(
      v.checks.map((c) => [c.name, c.result]),
      [
        ['errorRate', 'pass'],
        ['p95', 'pass'],
        ['errorRateIncrease', 'pass'],
        ['p95Ratio', 'pass'],
      ],
    );
    assert.match(v.reasons[0], /200 canary requests within every limit at 95 % confidence/);
  });

  it('fails 5 % errors on one path: absolute and relative, with p-values and the path', () => {
    const v = judgeWindow(side(400, 20), side(4000, 0), cfg);
    assert.equal(v.result, 'fail');
    const byName = Object.fromEntries(v.checks.map((c) => [c.name, c]));
    assert.equal(byName.errorRate.result, 'fail');
    assert.equal(byName.errorRateIncrease.result, 'fail');
    assert.ok(byName.errorRate.pValue! < 0.05 && byName.errorRateIncrease.pValue! < 0.05);
    assert.deepEqual(v.canary.topErrors, [{ path: '/checkout', errors: 20 }]);
    assert.match(v.reasons.join('\n'), /canary error rate 5\.00 % \(20\/400\) is above the limit 1\.00 %/);
  });

  it('does not fail on one unlucky error in a small sample', () => {
    const v = judgeWindow(side(60, 1), side(600, 0), cfg);
    assert.equal(v.result, 'pass', v.reasons.join('\n'));
  });

  it('fails a canary 200 ms slower by the relative p95 check (Mann–Whitney)', () => {
    const v = judgeWindow(
      side(300, 0, (i) => 30 + (i % 20) + 200),
      side(3000, 0, (i) => 30 + (i % 20)),
      resolveAnalysisConfig({ limits: { maxP95Ms: 5000 } }),
    );
    assert.equal(v.result, 'fail');
    const ratio = v.checks.find((c) => c.name === 'p95Ratio')!;
    assert.equal(ratio.result, 'fail');
    assert.equal(ratio.test, 'mann-whitney');
    assert.ok(ratio.observed! > 4);
  });

  it('tolerates a tiny absolute p95 difference however large the ratio', () => {
    const v = judgeWindow(
      side(500, 0, () => 5),
      side(5000, 0, () => 2),
      cfg,
    );
    assert.equal(v.result, 'pass');
  });

  it('fails the absolute p95 limit', () => {
    const v = judgeWindow(
      side(100, 0, () => 1500),
      side(0, 0),
      cfg,
    );
    assert.equal(v.result, 'fail');
    assert.match(v.reasons[0], /canary p95 1500 ms is above the limit 1000 ms/);
  });

  it('too few canary requests is inconclusive, never a pass; overwhelming failures still fail', () => {
    const few = judgeWindow(side(10, 0), side(1000, 0), cfg);
    assert.equal(few.result, 'inconclusive');
    assert.match(few.reasons[0], /only 10 canary requests \(at least 50 needed\).*not a pass/);
    assert.equal(judgeWindow(side(0, 0), side(0, 0), cfg).result, 'inconclusive');
    assert.equal(judgeWindow(side(10, 8), side(1000, 0), cfg).result, 'fail');
  });

  it('skips relative checks without stable traffic (the 100 % step) and says so', () => {
    const v = judgeWindow(side(500, 0), side(3, 0), cfg);
    assert.equal(v.result, 'pass');
    assert.ok(v.checks.filter((c) => c.result === 'skipped').length === 2);
    assert.match(v.reasons[1], /stable had 3 requests.*relative checks skipped/);
  });

  it('decides the step: fail fast, continue, pass, extend then pause', () => {
    const c = { failureLimit: 2, onInconclusive: 'extend' as const, extendLimitMs: 60_000 };
    assert.equal(decideStep({ failedWindows: 2, stepVerdict: 'pass', elapsedMs: 0, observeMs: 300_000 }, c), 'fail');
    assert.equal(decideStep({ failedWindows: 1, stepVerdict: 'pass', elapsedMs: 60_000, observeMs: 300_000 }, c), 'continue');
    assert.equal(decideStep({ failedWindows: 1, stepVerdict: 'pass', elapsedMs: 300_000, observeMs: 300_000 }, c), 'pass');
    assert.equal(decideStep({ failedWindows: 0, stepVerdict: 'inconclusive', elapsedMs: 300_000, observeMs: 300_000 }, c), 'extend');
    assert.equal(decideStep({ failedWindows: 0, stepVerdict: 'inconclusive', elapsedMs: 360_000, observeMs: 300_000 }, c), 'pause');
    assert.equal(
      decideStep(
        { failedWindows: 0, stepVerdict: 'inconclusive', elapsedMs: 300_000, observeMs: 300_000 },
        { ...c, onInconclusive: 'pause' },
      ),
      'pause',
    );
  });
});

describe('analysis config', () => {
  it('applies defaults and parses durations', () => {
    const c = resolveAnalysisConfig({ interval: '30s', observe: '2m30s', limits: { maxP95Ms: 400 }, onInconclusive: 'extend' });
    assert.equal(c.intervalMs, 30_000);
    assert.equal(c.observeMs, 150_000);
    assert.equal(c.limits.maxP95Ms, 400);
    assert.equal(c.limits.maxErrorRate, DEFAULT_ANALYSIS.limits.maxErrorRate);
    assert.equal(c.onInconclusive, 'extend');
    assert.deepEqual(resolveAnalysisConfig(), { ...DEFAULT_ANALYSIS, limits: { ...DEFAULT_ANALYSIS.limits }, errorStatuses: ['5xx'] });
    assert.deepEqual(
      [parseDuration('250ms'), parseDuration('1h'), parseDuration(5), parseDuration('5 m'), parseDuration('m')],
      [250, 3_600_000, 5, undefined, undefined],
    );
    assert.throws(() => resolveAnalysisConfig({ interval: '10m', observe: '5m' }), /analysis\.interval .* longer than analysis\.observe/);
    assert.throws(() => resolveAnalysisConfig({ interval: 'soon' }), /analysis\.interval: "soon" is not a duration/);
  });

  it('the schema fragment accepts the documented shape and refuses typos', () => {
    const ajv = new Ajv({ allErrors: true });
    const validate = ajv.compile({ ...ANALYSIS_SCHEMA });
    assert.ok(
      validate({
        interval: '1m',
        observe: '5m',
        minRequests: 100,
        limits: { maxErrorRate: 0.02, maxP95Ratio: 1.5 },
        confidence: 0.99,
        failureLimit: 2,
        onInconclusive: 'extend',
        extendLimit: '10m',
        autoPromote: true,
        errorStatuses: ['5xx', '429'],
      }),
      ajv.errorsText(validate.errors),
    );
    for (const bad of [
      { interval: '1 minute' },
      { onInconclusive: 'wait' },
      { limits: { maxErrorRate: 2 } },
      { minRequest: 5 },
      { errorStatuses: ['5x'] },
    ])
      assert.equal(validate(bad), false, JSON.stringify(bad));
  });
});
