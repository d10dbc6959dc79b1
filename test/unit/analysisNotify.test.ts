import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { notifyAll } from '../../src/core/analysis/notify';

function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

describe('analysis notify', () => {
  it('posts JSON with a text field to a live receiver, and retries a 500', async () => {
    const bodies: unknown[] = [];
    let calls = 0;
    const rx = await listen((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        calls++;
        bodies.push(JSON.parse(b));
        res.statusCode = calls === 1 ? 500 : 200;
        res.end();
      });
    });
    try {
      const out = await notifyAll([rx.url], { event: 'rollback', text: 'rolled back' }, { attempts: 2, timeoutMs: 2000 });
      assert.deepEqual(out, [{ url: rx.url, ok: true }]);
      assert.equal(calls, 2);
      assert.deepEqual(bodies[1], { event: 'rollback', text: 'rolled back' });
    } finally {
      await rx.close();
    }
  });

  it('a receiver that never answers costs at most the budget and is reported, not thrown', async () => {
    const rx = await listen(() => {
      /* never answers */
    });
    try {
      const t0 = Date.now();
      const out = await notifyAll([rx.url], { event: 'failure', text: 'x' }, { attempts: 2, timeoutMs: 300 });
      const took = Date.now() - t0;
      assert.equal(out[0].ok, false);
      assert.ok(took < 2000, `took ${took} ms`);
    } finally {
      await rx.close();
    }
  });
});
