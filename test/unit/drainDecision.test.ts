import * as assert from 'node:assert/strict';
import { DRAIN_MARGIN_MS, DRAIN_MIN_QUIET_MS, drainDecision } from '../../src/core/backends/drain';
import type { DrainSample } from '../../src/core/backends/drain';

const T = 1_000_000;
/** A request of `ms` that ended at `end` (upstream time the same). */
const req = (end: number, ms: number, upstreamMs: number | undefined = ms): DrainSample => ({ timeMs: end, requestTimeMs: ms, upstreamMs });

describe('drain decision from the access log', () => {
  it('an idle backend (nothing in the log) is drained after the minimum quiet period, not drainSeconds', () => {
    assert.equal(drainDecision({ liveAt: T, now: T + DRAIN_MIN_QUIET_MS - 1, capMs: 5000, samples: [] }).done, false);
    const d = drainDecision({ liveAt: T, now: T + DRAIN_MIN_QUIET_MS, capMs: 5000, samples: [] });
    assert.deepEqual([d.done, d.reason, d.quietUntil, d.longestMs, d.finishedInFlight], [true, 'quiet', T + DRAIN_MIN_QUIET_MS, 0, 0]);
  });

  it('the quiet period follows the longest upstream time the backend showed before the drain (x1.5 + margin)', () => {
    const before = [req(T - 5000, 20), req(T - 3000, 310), req(T - 1000, 15)];
    const d = drainDecision({ liveAt: T, now: T + 100, capMs: 5000, samples: before });
    assert.equal(d.longestMs, 310);
    assert.equal(d.quietUntil, T + Math.ceil(310 * 1.5) + DRAIN_MARGIN_MS);
    assert.equal(d.done, false);
    assert.equal(drainDecision({ liveAt: T, now: d.quietUntil, capMs: 5000, samples: before }).reason, 'quiet');
  });

  it('uses the upstream time of the attempt, the request time only when nginx logged none', () => {
    // A slow client: 2 s of request time, 10 ms on the backend.
    assert.equal(drainDecision({ liveAt: T, now: T, capMs: 5000, samples: [req(T - 100, 2000, 10)] }).longestMs, 10);
    assert.equal(drainDecision({ liveAt: T, now: T, capMs: 5000, samples: [req(T - 100, 2000, undefined)] }).longestMs, 2000);
  });

  it('a request that was in flight at the drain and ends later counts, and holds the end to a margin after it', () => {
    // Started at T-100, still running when the down went live, ended at T+900 (longer than any seen before).
    const samples = [req(T - 2000, 50), req(T + 900, 1000)];
    const d = drainDecision({ liveAt: T, now: T + 950, capMs: 5000, samples });
    assert.equal(d.finishedInFlight, 1);
    assert.equal(d.longestMs, 1000);
    assert.equal(d.quietUntil, T + 1600, 'the longest seen now is 1000 ms: 1500 + margin');
    assert.equal(d.done, false);
    // A request that started after the drain (it cannot, unless clocks disagree) is not "in flight at T", but still holds the end.
    const late = drainDecision({ liveAt: T, now: T + 250, capMs: 5000, samples: [req(T + 240, 10)] });
    assert.deepEqual([late.finishedInFlight, late.done, late.quietUntil], [0, false, T + 240 + DRAIN_MARGIN_MS]);
  });

  it('requests that ended before the drain are history, not in flight', () => {
    const d = drainDecision({ liveAt: T, now: T + 550, capMs: 5000, samples: [req(T - 1, 300), req(T - 400, 300)] });
    assert.deepEqual([d.finishedInFlight, d.done], [0, true]);
  });

  it('drainSeconds is the upper bound: a backend whose requests take longer stops waiting at the cap', () => {
    const samples = [req(T - 100, 60_000)];
    assert.equal(drainDecision({ liveAt: T, now: T + 4999, capMs: 5000, samples }).done, false);
    const d = drainDecision({ liveAt: T, now: T + 5000, capMs: 5000, samples });
    assert.deepEqual([d.done, d.reason], [true, 'cap']);
  });
});
