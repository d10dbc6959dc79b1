/**
 * Real nginx writing the phar_rollout format; the reader and attribution count real requests,
 * including a canary failure hidden from the client by nginx's retry, and a rotation with
 * `nginx -s reopen` in the middle of the traffic.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LOG_FORMAT_DIRECTIVE, accessLogDirective } from '../../src/core/analysis/accessLog';
import type { AccessLogEntry } from '../../src/core/analysis/accessLog';
import { errorStatusTest } from '../../src/core/analysis/analysisConfig';
import { Attributor } from '../../src/core/analysis/attribution';
import { AccessLogReader, LocalLogSource } from '../../src/core/analysis/logReader';
import { Window } from '../../src/core/analysis/metrics';
import { run } from '../../src/core/exec/process';
import { freePort } from '../../src/core/net/freePort';
import { nginxCommand, startNginx, stopNginx } from '../../src/core/sandbox/nginxSandbox';
import { waitFor } from '../helpers/wait';

function backend(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<http.Server> {
  return new Promise((resolve) => {
    const s = http.createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
const addr = (s: http.Server) => `127.0.0.1:${(s.address() as AddressInfo).port}`;

async function get(url: string): Promise<number> {
  const r = await fetch(url);
  await r.arrayBuffer();
  return r.status;
}

describe('analysis on a real nginx access log', function () {
  let dir: string;
  let prefix: string;
  let port: number;
  let log: string;
  let stable: http.Server;
  let canary: http.Server;
  let deadCanary: string;
  let canaryHits = 0;
  let canaryFailures = 0;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-analysis-nginx-'));
    prefix = path.join(dir, 'nginx');
    for (const d of ['conf', 'logs', 'temp']) await fs.mkdir(path.join(prefix, d), { recursive: true });
    stable = await backend((_req, res) => res.end('ok'));
    // The canary fails every /checkout with a 500: nginx retries on stable and the user sees 200.
    canary = await backend((req, res) => {
      canaryHits++;
      res.statusCode = req.url?.startsWith('/checkout') ? 500 : 200;
      if (res.statusCode === 500) canaryFailures++;
      setTimeout(() => res.end('canary'), 5);
    });
    deadCanary = `127.0.0.1:${await freePort()}`; // nothing listens: connection refused, a 502 attempt
    port = await freePort();
    log = path.join(prefix, 'logs', 'rollout.log');
    await fs.writeFile(
      path.join(prefix, 'conf', 'nginx.conf'),
      `worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    ${LOG_FORMAT_DIRECTIVE}
    ${accessLogDirective(log)}
    upstream app {
        server ${addr(stable)} max_fails=0;
        server ${addr(canary)} max_fails=0;
        server ${deadCanary} max_fails=0;
    }
    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://app;
            proxy_next_upstream error timeout http_500;
            proxy_connect_timeout 2s;
        }
        location = /local { return 204; }
    }
}
`,
    );
    await startNginx(prefix);
  });

  after(async () => {
    if (prefix) await stopNginx(prefix);
    stable?.close();
    canary?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const attributor = () =>
    new Attributor([
      { name: 'web-1', group: 'stable', upstream: addr(stable) },
      { name: 'canary-1', group: 'canary', upstream: addr(canary) },
      { name: 'canary-2', group: 'canary', upstream: deadCanary },
    ]);

  it('attributes retried attempts: failed canary attempts count although every user got 200', async () => {
    const reader = new AccessLogReader(new LocalLogSource(log), { startAt: 'start' });
    const paths = ['/', '/checkout', '/api/items', '/checkout?card=secret'];
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push(await get(`http://127.0.0.1:${port}${paths[i % paths.length]}`));
    statuses.push(await get(`http://127.0.0.1:${port}/local`));
    assert.deepEqual(new Set(statuses.slice(0, 60)), new Set([200]));
    const w = new Window(attributor(), { isError: errorStatusTest(['5xx']) });
    const logged: AccessLogEntry[] = [];
    await waitFor('61 logged requests', async () => {
      const r = await reader.read();
      assert.equal(r.unparsable, 0);
      logged.push(...r.entries);
      return logged.length >= 61;
    });
    w.addAll(logged);
    // What nginx tried, per backend, from the log; the backends' own counts must agree.
    const perBackend = new Map<string, { attempts: number; failed: number }>();
    for (const e of logged) {
      for (const a of attributor().attempts(e)) {
        const b = perBackend.get(a.backend ?? '?') ?? { attempts: 0, failed: 0 };
        b.attempts++;
        if (a.status === undefined || a.status >= 500) b.failed++;
        perBackend.set(a.backend ?? '?', b);
      }
    }
    assert.deepEqual(perBackend.get('canary-1'), { attempts: canaryHits, failed: canaryFailures });
    const dead = perBackend.get('canary-2')!;
    assert.ok(dead.attempts > 0 && dead.failed === dead.attempts, JSON.stringify(dead));
    assert.ok(canaryFailures > 0);
    const c = w.canary.summary();
    const s = w.stable.summary();
    assert.equal(w.counters.requests, 60);
    assert.equal(w.counters.unattributed, 1, 'the nginx-answered /local has no upstream');
    assert.equal(c.requests, canaryHits + dead.attempts);
    assert.equal(c.errors, canaryFailures + dead.attempts, 'failed canary attempts are canary errors although users got 200');
    assert.equal(s.errors, 0);
    // Every request ended in exactly one success (all users got 200).
    assert.equal(s.requests + (c.requests - c.errors), 60);
    assert.ok(c.topErrors.some((e) => e.path === '/checkout'));
    assert.ok(!JSON.stringify(logged).includes('secret'), '$uri holds no query string');
    assert.ok(c.p95Ms !== undefined && c.p95Ms >= 0);
  });

  it('loses and doubles nothing across a rename rotation and nginx -s reopen mid-traffic', async () => {
    const reader = new AccessLogReader(new LocalLogSource(log)); // from the end: only new traffic
    await reader.read();
    const w = new Window(attributor(), { isError: errorStatusTest(['5xx']) });
    const send = async (n: number) => {
      for (let i = 0; i < n; i++) await get(`http://127.0.0.1:${port}/api/items`);
    };
    await send(20);
    w.addAll((await reader.read()).entries);
    await send(10);
    await fs.rename(log, `${log}.1`);
    await send(10); // still written to the renamed file
    w.addAll((await reader.read()).entries);
    const [cmd, ...args] = nginxCommand(prefix, '-s', 'reopen');
    await run(cmd, args, { timeoutMs: 10000 });
    await waitFor('the new log file', () => fs.stat(log).then(() => true));
    await send(15);
    await waitFor('55 requests counted', async () => {
      w.addAll((await reader.readAll()).entries);
      return w.counters.requests >= 55;
    });
    w.addAll((await reader.readAll()).entries);
    assert.equal(w.counters.requests, 55);
    assert.equal(w.counters.unattributed, 0);
  });
});
