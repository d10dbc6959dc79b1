/**
 * The pure parts of Start Rollout and the timeline (issue 9 item 9): analysis history rows read back,
 * the latest rollout's chart columns, the rollout row's last window, the progress text and the plan.
 */
import assert from 'node:assert/strict';
import type { HistoryEvent } from '../../src/core/rollout/types';
import type { PlanStep } from '../../src/core/analysis/plan';
import { historyChange, historyKind } from '../../src/vscode/historyText';
import {
  durationText,
  lastWindow,
  latestRollout,
  planPosition,
  planText,
  progressText,
  timelineData,
  windowFigures,
} from '../../src/vscode/timelineSeries';

const T0 = Date.parse('2026-12-02T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function split(s: number, action: string, before: number | null, after: number, result = 'ok'): HistoryEvent {
  return { time: at(s), user: 'ann@example.com', action, target: 'edge', before: { split: before }, after: { split: after }, result };
}

/** An analysis row as run.ts writes it. */
function win(
  s: number,
  pct: number,
  n: number,
  canary: [number, number, number?],
  stable: [number, number, number?],
  result = 'pass',
): HistoryEvent {
  const side = ([requests, errors, p95Ms]: [number, number, number?]) => ({
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    p95Ms,
  });
  return {
    time: at(s),
    user: 'ann@example.com',
    action: 'analysis',
    target: 'canary',
    after: { split: pct, window: n, canary: side(canary), stable: side(stable) },
    result,
  };
}

const earlier: HistoryEvent[] = [
  split(0, 'ramp', 0, 10),
  win(5, 10, 1, [10, 5, 90], [90, 0, 10], 'fail: canary error rate 50.0 % above 1.0 %'),
  split(6, 'rollback', 10, 0, 'ok (analysis failed)'),
];
const latest: HistoryEvent[] = [
  { time: at(100), user: 'ann@example.com', action: 'deploy', target: 'canary', after: { version: '1.3.0' }, result: 'ok' },
  split(110, 'ramp', 0, 10),
  win(115, 10, 1, [12, 0, 20], [108, 1, 15]),
  win(120, 10, 2, [3, 0, 18], [30, 0, 14], 'inconclusive'),
  split(121, 'ramp', 10, 50),
  win(126, 50, 1, [60, 3, 40], [60, 0, 16], 'fail: canary error rate 5.0 % above 1.0 %'),
  split(127, 'rollback', 50, 0, 'ok (analysis failed at 50 %)'),
];

describe('timeline series (issue 9 item 9)', () => {
  it('reads an analysis row back, and nothing from other rows or unknown shapes', () => {
    const w = windowFigures(latest[2]);
    assert.deepEqual(w, {
      atMs: T0 + 115_000,
      split: 10,
      window: 1,
      canary: { requests: 12, errors: 0, errorRate: 0, p95Ms: 20 },
      stable: { requests: 108, errors: 1, errorRate: 1 / 108, p95Ms: 15 },
      verdict: 'pass',
    });
    assert.equal(windowFigures(latest[5])?.verdict, 'fail');
    assert.equal(windowFigures(latest[1]), undefined);
    assert.equal(windowFigures({ ...latest[2], after: { split: 10, canary: 'x' } }), undefined);
    assert.equal(windowFigures({ ...latest[2], time: 'not a time' }), undefined);
  });

  it('the latest rollout starts at the last split change away from 0 %, and keeps its way back to 0 %', () => {
    const events = [...earlier, ...latest];
    const r = latestRollout(events);
    assert.equal(r[0], latest[1]);
    assert.equal(r.at(-1), latest[6]);
    // A ramp still running (no rollback yet) is its own rollout too; no ramp at all: everything.
    assert.equal(latestRollout(events.slice(0, -1))[0], latest[1]);
    assert.equal(latestRollout([latest[2], latest[3]]).length, 2);
    // A run picking a step up (no "before") is inside the rollout, not the start of one.
    const pickedUp: HistoryEvent = {
      time: at(122),
      user: 'ann@example.com',
      action: 'run',
      target: 'plan',
      after: { planIndex: 0, split: 50 },
      result: 'ok (picked up at 50 %)',
    };
    assert.equal(latestRollout([...events.slice(0, -2), pickedUp, ...events.slice(-2)])[0], latest[1]);
    // A failed ramp from 0 % changed nothing: it does not start a rollout.
    assert.equal(latestRollout([...events, split(200, 'ramp', 0, 25, 'failed: nginx -t')])[0], latest[1]);
  });

  it('builds aligned uPlot columns: seconds, the split carried as a step, window figures null on split rows', () => {
    const d = timelineData([...earlier, ...latest]);
    const s = (n: number) => (T0 + n * 1000) / 1000;
    assert.deepEqual(d.x, [s(110), s(115), s(120), s(121), s(126), s(127)]);
    assert.deepEqual(d.split, [10, 10, 10, 50, 50, 0]);
    assert.deepEqual(d.canaryErrorPct, [null, 0, 0, null, 5, null]);
    assert.deepEqual(
      d.stableErrorPct.map((v) => (v === null ? v : Math.round(v * 100) / 100)),
      [null, 0.93, 0, null, 0, null],
    );
    assert.deepEqual(d.canaryP95Ms, [null, 20, 18, null, 40, null]);
    assert.deepEqual(d.stableP95Ms, [null, 15, 14, null, 16, null]);
    assert.deepEqual(d.verdicts, [undefined, 'pass', 'inconclusive', undefined, 'fail', undefined]);
    assert.equal(d.windows, 3);
    for (const col of [d.split, d.canaryErrorPct, d.stableErrorPct, d.canaryP95Ms, d.stableP95Ms, d.verdicts])
      assert.equal(col.length, d.x.length);
  });

  it('keeps x strictly increasing for events in the same millisecond (uPlot needs it)', () => {
    const d = timelineData([split(0, 'ramp', 0, 10), win(0, 10, 1, [1, 0, 1], [1, 0, 1])]);
    assert.equal(d.x.length, 2);
    assert.ok(d.x[1] > d.x[0]);
  });

  it('has no columns without history, and the last window is the newest of the latest rollout', () => {
    assert.deepEqual(timelineData([]).x, []);
    assert.equal(lastWindow([]), undefined);
    assert.equal(lastWindow([...earlier, ...latest])?.atMs, T0 + 126_000);
    // A new rollout that has no window yet shows none (not the previous rollout's).
    assert.equal(lastWindow([...earlier, ...latest, split(300, 'ramp', 0, 10)]), undefined);
  });

  it('says where the run is: step, time left, both sides of the last window', () => {
    assert.equal(progressText({ step: 2, steps: 4, weight: 25 }), 'Step 2/4 · 25 % · going live');
    assert.equal(progressText({ step: 2, steps: 4, weight: 25, leftMs: 80_000 }), 'Step 2/4 · 25 % · 1m 20s left · first window…');
    const last = windowFigures(latest[3])!;
    assert.equal(
      progressText({ step: 1, steps: 4, weight: 10, leftMs: 4_100, last }),
      'Step 1/4 · 10 % · 5 s left · canary 3 req 0.0 % p95 18 ms · stable 30 req 0.0 % p95 14 ms (inconclusive)',
    );
    assert.equal(
      progressText({ step: 1, steps: 1, weight: 10, leftMs: -1, last: windowFigures(latest[2])! }),
      'Step 1/1 · 10 % · extended · canary 12 req 0.0 % p95 20 ms · stable 108 req 0.9 % p95 15 ms',
    );
    assert.equal(
      progressText({ step: 1, steps: 1, weight: 10, leftMs: 1, last: { ...last, canary: { requests: 0, errors: 0, errorRate: 0 } } }),
      'Step 1/1 · 10 % · 1 s left · canary 0 req 0.0 % p95 — · stable 30 req 0.0 % p95 14 ms (inconclusive)',
    );
  });

  it('writes durations and the plan in words, and finds a step in the plan', () => {
    assert.deepEqual([0, 999, 42_000, 60_000, 65_000, 5_400_000, 7_200_000].map(durationText), [
      '0 s',
      '1 s',
      '42 s',
      '1m',
      '1m 05s',
      '1h 30m',
      '2h',
    ]);
    const plan: PlanStep[] = [
      { kind: 'weight', weight: 10, observeMs: 300_000 },
      { kind: 'pause' },
      { kind: 'weight', weight: 50, observeMs: 90_000 },
      { kind: 'weight', weight: 100, observeMs: 60_000 },
    ];
    assert.equal(planText(plan), '10 % for 5m → pause → 50 % for 1m 30s → 100 % for 1m');
    assert.deepEqual(planPosition(plan, 50, 0), { index: 2, step: 2, steps: 3 });
    assert.deepEqual(planPosition(plan, 100, 3), { index: 3, step: 3, steps: 3 });
  });

  it('a History row of a window reads as its figures; an inconclusive window is neither pass nor fail', () => {
    assert.equal(historyChange(latest[2]), 'at 10 %, window 1: canary 12 req 0.0 % p95 20 ms · stable 108 req 0.9 % p95 15 ms');
    assert.equal(historyKind(latest[2]), 'pass');
    assert.equal(historyKind(latest[3]), 'started');
    assert.equal(historyKind(latest[5]), 'fail');
  });
});
