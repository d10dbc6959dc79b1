import assert from 'node:assert/strict';
import { HISTOGRAM_BUCKETS, LatencyHistogram, bucketOf, bucketValue } from '../../src/core/analysis/histogram';
import { binomialUpperTail, fisherGreater, mannWhitneyGreater, normalCdf, normalUpperTail } from '../../src/core/analysis/statistics';

const close = (actual: number, expected: number, tol = 1e-4) => assert.ok(Math.abs(actual - expected) <= tol, `${actual} ≉ ${expected}`);
const hist = (values: number[]) => {
  const h = new LatencyHistogram();
  for (const v of values) h.add(v);
  return h;
};

describe('analysis statistics', () => {
  it('normal distribution', () => {
    close(normalCdf(1.959964), 0.975, 1e-6);
    close(normalUpperTail(1.644854), 0.05, 1e-6);
    close(normalUpperTail(-1), 0.841345, 1e-6);
    close(normalUpperTail(5), 2.8665e-7, 1e-9);
  });

  it('binomial upper tail against hand-computed values', () => {
    close(binomialUpperTail(2, 10, 0.1), 1 - 0.9 ** 10 - 10 * 0.1 * 0.9 ** 9, 1e-9);
    close(binomialUpperTail(1, 50, 0.01), 1 - 0.99 ** 50, 1e-9);
    assert.equal(binomialUpperTail(0, 10, 0.5), 1);
    assert.equal(binomialUpperTail(11, 10, 0.5), 0);
    close(binomialUpperTail(50_600, 1_000_000, 0.05), normalUpperTail(599.5 / Math.sqrt(47_500)), 1e-4); // normal approximation
  });

  it('Fisher exact, one-sided, against known tables', () => {
    close(fisherGreater(3, 4, 1, 4), 17 / 70, 1e-9); // Fisher's tea tasting
    close(fisherGreater(3, 10, 0, 10), 19448 / 184756, 1e-9);
    assert.equal(fisherGreater(0, 10, 5, 10), 1);
    assert.equal(fisherGreater(0, 0, 1, 10), 1);
    assert.ok(fisherGreater(50, 1000, 10, 100_000) < 1e-30);
  });

  it('Mann–Whitney U on histograms (ties as ½, normal approximation with continuity)', () => {
    const r = mannWhitneyGreater(hist([4, 5, 6]), hist([1, 2, 3]));
    assert.equal(r.u, 9);
    close(r.pValue, normalUpperTail(4 / Math.sqrt((9 * 7) / 12)), 1e-12);
    const tied = mannWhitneyGreater(hist([2, 2, 3]), hist([1, 2, 2]));
    assert.equal(tied.u, 3 * 0 + 2 * (1 + 2 / 2) + 1 * 3); // = 7
    assert.ok(mannWhitneyGreater(hist([1, 2, 3]), hist([4, 5, 6])).pValue > 0.9);
    assert.equal(mannWhitneyGreater(hist([]), hist([1])).pValue, 1);
  });

  it('histogram: exact below 1024 ms, < 0.2 % error above, fixed size', () => {
    for (const v of [0, 1, 999, 1023]) assert.equal(bucketValue(bucketOf(v)), v);
    for (const v of [1024, 1500, 65_537, 9_000_000]) {
      const b = bucketValue(bucketOf(v));
      assert.ok(b <= v && (v - b) / v < 0.002, `${v} → ${b}`);
    }
    assert.equal(bucketOf(1e12), HISTOGRAM_BUCKETS - 1);
    assert.equal(bucketOf(-5), 0);
    const h = hist(Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual([h.quantile(0.5), h.quantile(0.95), h.quantile(0.99), h.quantile(1)], [50, 95, 99, 100]);
    assert.equal(h.countAbove(90), 10);
    assert.equal(new LatencyHistogram().quantile(0.5), undefined);
  });
});
