import * as assert from 'node:assert/strict';
import type { HistoryEvent } from '../../src/core/rollout/types';
import { eventCount, historyChange, historyDocument, historyKind, historyResult, shortUser } from '../../src/vscode/historyText';

const at = '2026-12-02T10:00:00.000Z';
const ev = (e: Partial<HistoryEvent>): HistoryEvent => ({ time: at, user: 'alice@example.com', action: 'ramp', result: 'ok', ...e });

describe('vscode historyText (History rows and Open History)', () => {
  it('says versions and splits in words, never JSON', () => {
    assert.equal(historyChange(ev({ before: 0, after: 25 })), '0 % → 25 %');
    assert.equal(
      historyChange(
        ev({ action: 'promote', before: { release: 'app-1.2.0-abc1234-deadbeef' }, after: { release: 'app-1.3.0-abc1234-deadbeef' } }),
      ).includes('{'),
      false,
    );
    assert.equal(
      historyChange(
        ev({ before: { releases: { a: 'x-1.2.0-abc1234-deadbeef', b: null } }, after: { weird: { nested: 1 }, n: 2 } }),
      ).includes('{'),
      false,
    );
    assert.equal(
      historyChange(ev({ action: 'gate', after: { split: 25, errorRate: 0.004, p95Ms: 41.6, stableErrorRate: 0, stableP95Ms: 40 } })),
      'at 25 %: canary errors 0.4 %, p95 42 ms (stable 0.0 %, 40 ms)',
    );
    assert.equal(historyChange(ev({})), '');
  });

  it('names the result and the kind the icon shows', () => {
    assert.equal(historyResult(ev({ action: 'gate', result: 'pass' })), 'passed');
    assert.equal(historyResult(ev({ action: 'gate', result: 'fail: error rate 9 %' })), 'failed: error rate 9 %');
    assert.equal(historyResult(ev({ action: 'rollback' })), 'rolled back');
    assert.equal(historyKind(ev({})), 'pass');
    assert.equal(historyKind(ev({ result: 'failed on canary-1' })), 'fail');
    assert.equal(historyKind(ev({ action: 'rollback' })), 'rollback');
    assert.equal(historyKind(ev({ result: 'started' })), 'started');
    assert.equal(historyKind(ev({ result: 'cancelled' })), 'cancelled');
  });

  it('counts "1 event" and shortens the e-mail', () => {
    assert.equal(eventCount(1), '1 event');
    assert.equal(eventCount(2), '2 events');
    assert.equal(shortUser('alice@example.com'), 'alice');
    assert.equal(shortUser('bob'), 'bob');
  });

  it('Open History: newest first, filtered by action, foreign text made safe', () => {
    const events = [
      ev({ action: 'deploy', target: 'canary-1', before: '1.2.0', after: '1.3.0' }),
      ev({ before: 0, after: 25 }),
      ev({ user: 'mallory\u001b[31m@x', before: 25, after: 50 }),
    ];
    const all = historyDocument(events);
    assert.match(all, /3 events, newest first/);
    const lines = all.split('\n');
    assert.ok(lines.findIndex((l) => l.includes('25 % → 50 %')) < lines.findIndex((l) => l.includes('deploy canary-1')));
    assert.equal(all.includes('\u001b'), false);
    const ramps = historyDocument(events, 'ramp');
    assert.match(ramps, /ramp only \(2 events/);
    assert.equal(ramps.includes('deploy'), false);
    assert.match(historyDocument(events, 'promote'), /0 events/);
  });
});
