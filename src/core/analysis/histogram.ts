/**
 * A fixed-size latency histogram in whole milliseconds (nginx logs times with ms resolution).
 *
 * Values below 1024 ms have one bucket each (exact); above, every power of two is cut into 512
 * buckets (relative error < 0.2 %), up to 2^24 ms (4.6 h; larger values land in the last bucket).
 * That is 8,704 counters (35 KB) per side however many requests a window holds, and two windows
 * (or two sides) with the same buckets can be merged and rank-compared (Mann–Whitney U) exactly
 * on the bucketed values. An HDR histogram or t-digest package would do the same job with more
 * code and without the shared bucket boundaries the rank test relies on.
 */

const EXACT = 1024;
const SUB_BITS = 9;
const SUB = 1 << SUB_BITS;
const FIRST_EXP = 10;
const LAST_EXP = 23;
/** Number of buckets. */
export const HISTOGRAM_BUCKETS = EXACT + (LAST_EXP - FIRST_EXP + 1) * SUB;

/** The bucket of a value in ms (negative and NaN count as 0). */
export function bucketOf(ms: number): number {
  const v = ms > 0 ? Math.floor(ms) : 0;
  if (v < EXACT) return v;
  if (v >= 2 ** (LAST_EXP + 1)) return HISTOGRAM_BUCKETS - 1;
  const exp = 31 - Math.clz32(v);
  const sub = (v >>> (exp - SUB_BITS)) & (SUB - 1);
  return EXACT + (exp - FIRST_EXP) * SUB + sub;
}

/** The smallest value in ms that falls into `bucket`: what a quantile reports. */
export function bucketValue(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const i = bucket - EXACT;
  const exp = FIRST_EXP + Math.floor(i / SUB);
  const sub = i % SUB;
  return 2 ** exp + sub * 2 ** (exp - SUB_BITS);
}

/** Counts of latencies per bucket. */
export class LatencyHistogram {
  readonly counts = new Uint32Array(HISTOGRAM_BUCKETS);
  private n = 0;

  /** Number of values added. */
  get count(): number {
    return this.n;
  }

  add(ms: number): void {
    this.counts[bucketOf(ms)]++;
    this.n++;
  }

  /** Adds every count of `other`. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) this.counts[i] += other.counts[i];
    this.n += other.n;
  }

  /**
   * The nearest-rank quantile (the ⌈q·n⌉-th smallest value, as `sort -n | sed -n Np` gives it),
   * exact below 1024 ms; undefined when empty.
   */
  quantile(q: number): number | undefined {
    if (this.n === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return bucketValue(i);
    }
    return bucketValue(HISTOGRAM_BUCKETS - 1);
  }

  /** How many values are strictly above `ms` (bucket resolution). */
  countAbove(ms: number): number {
    let above = 0;
    for (let i = bucketOf(ms) + 1; i < HISTOGRAM_BUCKETS; i++) above += this.counts[i];
    return above;
  }
}
