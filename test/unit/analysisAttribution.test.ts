import assert from 'node:assert/strict';
import { parseAccessLogLine } from '../../src/core/analysis/accessLog';
import { Attributor } from '../../src/core/analysis/attribution';
import { errorStatusTest } from '../../src/core/analysis/analysisConfig';
import { Window } from '../../src/core/analysis/metrics';
import { logLine } from './analysisAccessLog.test';

const backends = [
  { name: 'web-1', group: 'stable' as const, upstream: '127.0.0.1:8001' },
  { name: 'web-2', group: 'stable' as const, upstream: '127.0.0.1:8003' },
  { name: 'canary-1', group: 'canary' as const, upstream: '127.0.0.1:8002' },
];
const entry = (f: Parameters<typeof logLine>[0]) => parseAccessLogLine(logLine(f))!;

describe('analysis attribution', () => {
  const a = new Attributor(backends);

  it('maps each attempt of a retried request to its backend, side, status and time', () => {
    assert.deepEqual(a.attempts(entry({ addr: '127.0.0.1:8002, 127.0.0.1:8001', ustatus: '502, 200', utime: '0.001, 0.020' })), [
      { address: '127.0.0.1:8002', backend: 'canary-1', side: 'canary', status: 502, timeMs: 1 },
      { address: '127.0.0.1:8001', backend: 'web-1', side: 'stable', status: 200, timeMs: 20 },
    ]);
  });

  it('reads " : " groups (internal redirects), "-" fields and unknown addresses', () => {
    const at = a.attempts(
      entry({ addr: '127.0.0.1:8002 : 127.0.0.1:8003, 10.9.9.9:80', ustatus: '- : 504, 200', utime: '- : 1.000, 0.002' }),
    );
    assert.deepEqual(
      at.map((x) => [x.backend, x.side, x.status, x.timeMs]),
      [
        ['canary-1', 'canary', undefined, undefined],
        ['web-2', 'stable', 504, 1000],
        [undefined, 'other', 200, 2],
      ],
    );
    assert.deepEqual(a.attempts(entry({ addr: '', ustatus: '', utime: '' })), []);
    assert.deepEqual(a.attempts(entry({ addr: 'unix:/run/app.sock', ustatus: '200', utime: '0.001' }))[0].side, 'other');
  });

  it('counts a failed canary attempt as a canary error although the retry on stable served the user', () => {
    const w = new Window(a, { isError: errorStatusTest(['5xx']) });
    w.add(entry({ addr: '127.0.0.1:8002, 127.0.0.1:8001', ustatus: '502, 200', utime: '0.001, 0.020', status: '200', uri: '/checkout' }));
    w.add(entry({ addr: '127.0.0.1:8001', ustatus: '200', utime: '0.010' }));
    w.add(entry({ addr: '127.0.0.1:8002', ustatus: '200', utime: '0.030' }));
    w.add(entry({ addr: '', ustatus: '', utime: '', status: '404' }));
    const c = w.canary.summary();
    const s = w.stable.summary();
    assert.deepEqual([c.requests, c.errors, s.requests, s.errors], [2, 1, 2, 0]);
    assert.deepEqual(c.topErrors, [{ path: '/checkout', errors: 1 }]);
    assert.deepEqual(w.counters, { requests: 3, unattributed: 1, outside: 0 });
  });

  it('uses the configured status set; no response is an error unless the client left (499)', () => {
    const w = new Window(a, { isError: errorStatusTest(['5xx', '429']) });
    w.add(entry({ addr: '127.0.0.1:8002', ustatus: '429', utime: '0.001', status: '429' }));
    w.add(entry({ addr: '127.0.0.1:8002', ustatus: '404', utime: '0.001', status: '404' }));
    w.add(entry({ addr: '127.0.0.1:8002', ustatus: '-', utime: '-', status: '504' }));
    w.add(entry({ addr: '127.0.0.1:8002', ustatus: '-', utime: '-', status: '499' }));
    assert.deepEqual([w.canary.requests, w.canary.errors], [4, 2]);
    assert.throws(() => errorStatusTest(['5x']), /neither a status class/);
  });

  it('keeps only requests inside the window', () => {
    const w = new Window(a, { isError: errorStatusTest(['5xx']), fromMs: 1764661200000, toMs: 1764661260000 });
    w.add(entry({ msec: '1764661199.999' }));
    w.add(entry({ msec: '1764661200.000' }));
    w.add(entry({ msec: '1764661260.000' }));
    assert.deepEqual(w.counters, { requests: 1, unattributed: 0, outside: 2 });
  });

  it('bounds the error paths it keeps', () => {
    const w = new Window(a, { isError: errorStatusTest(['5xx']) });
    for (let i = 0; i < 1000; i++) w.add(entry({ addr: '127.0.0.1:8002', ustatus: '500', status: '500', uri: `/item/${i}` }));
    for (let i = 0; i < 3; i++) w.add(entry({ addr: '127.0.0.1:8002', ustatus: '500', status: '500', uri: '/item/7' }));
    const top = w.canary.summary().topErrors;
    assert.deepEqual(top[0], { path: '(other paths)', errors: 1000 - 256 });
    assert.deepEqual(top[1], { path: '/item/7', errors: 4 });
  });
});
