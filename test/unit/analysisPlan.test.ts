import assert from 'node:assert/strict';
import { PlanError, resolvePlan } from '../../src/core/analysis/plan';

const a = { observeMs: 300_000, intervalMs: 60_000 };

describe('analysis plan', () => {
  it('normalises numbers, weight objects and pauses, with observe defaults', () => {
    assert.deepEqual(resolvePlan([5, { weight: 25, observe: '10m' }, { pause: true }, 100], a), [
      { kind: 'weight', weight: 5, observeMs: 300_000 },
      { kind: 'weight', weight: 25, observeMs: 600_000 },
      { kind: 'pause' },
      { kind: 'weight', weight: 100, observeMs: 300_000 },
    ]);
  });

  it('refuses bad items with their index', () => {
    const cases: Array<[unknown[], RegExp]> = [
      [[101], /steps\[0\]: weight 101/],
      [[50, 25], /steps\[1\]: weight 25 is below/],
      [[{ pause: true }], /steps\[0\]: a pause step must follow/],
      [[5, { pause: true }, { pause: true }], /steps\[2\]/],
      [[5, { weight: 10, observe: 'soon' }], /steps\[1\]: "observe" "soon" is not a duration/],
      [[5, { weight: 10, observe: '10s' }], /shorter than analysis.interval/],
      [[{ weight: 10, wait: 1 }], /unknown field "wait"/],
      [['10'], /steps\[0\]: write a percentage/],
      [[{ pause: false }], /exactly/],
    ];
    for (const [items, re] of cases) {
      assert.throws(
        () => resolvePlan(items, a),
        (e: unknown) => e instanceof PlanError && re.test(e.message),
        JSON.stringify(items),
      );
    }
  });
});
