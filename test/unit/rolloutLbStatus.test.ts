import * as assert from 'node:assert/strict';
import { lbStatus } from '../../src/core/rollout/status';
import type { Intent } from '../../src/core/traffic/live';

const base = { name: 'lb-1', host: 'local', file: '/etc/nginx/app.conf', mode: 'weighted' as const };
const intent = {
  op: 'abc',
  owner: 'ann@example.com',
  pid: 4242,
  host: 'laptop',
  time: '2026-01-02T03:04:05.000Z',
  split: 50,
} as Intent;

describe('rollout status of one load balancer', () => {
  it('reports what nginx serves, not the file, and names an interrupted change with the fix', () => {
    const s = lbStatus({ ...base, split: 50, generation: 'g50', live: { generation: 'g0', split: 0 }, interrupted: intent });
    assert.equal(s.split, 0);
    assert.equal(s.fileSplit, 50);
    assert.match(
      s.drift!,
      /^file says 50 %, nginx serves 0 %: a change to 50 % by ann@example\.com \(pid 4242 on laptop, started 2026-01-02T03:04:05\.000Z\) did not finish; if that process is gone, run "phar-rollout recover"/,
    );
  });

  it('a file without an intent that nginx does not serve: recover puts the file back', () => {
    const s = lbStatus({
      ...base,
      split: 40,
      generation: 'g40',
      live: { generation: 'g10', split: 10 },
      drift: 'file 40 %, nginx serves 10 %',
    });
    assert.equal(s.split, 10);
    assert.equal(
      s.drift,
      'file says 40 %, nginx serves 10 %: run "phar-rollout recover" to put the file back to what nginx serves (traffic unchanged)',
    );
  });

  it('a file older than generations (no status endpoint) counts by its header; an unknown live split is no split', () => {
    assert.equal(lbStatus({ ...base, split: 25, liveError: 'no answer' }).split, 25);
    const unknown = lbStatus({ ...base, split: 25, generation: 'g25', liveError: 'no answer' });
    assert.equal(unknown.split, undefined);
    assert.equal(unknown.fileSplit, 25);
  });

  it('makes an owner from the LB host safe before a terminal shows it', () => {
    const s = lbStatus({
      ...base,
      split: 50,
      generation: 'g50',
      live: { generation: 'g0', split: 0 },
      interrupted: { ...intent, owner: 'x\u001b[31my' },
    });
    assert.doesNotMatch(s.drift!, /\u001b/);
  });
});
