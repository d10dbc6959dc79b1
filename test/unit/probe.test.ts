import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerShapeError, describeBuild, probeAll, probeVersion, servesBuild } from '../../src/core/backends/probe';
import { CancelledError } from '../../src/core/errors';
import { freePort } from '../../src/core/net/freePort';

// In-process HTTP servers on loopback: no child processes.
describe('probeVersion', () => {
  let server: http.Server;
  let base: string;
  const hanging = new Set<http.ServerResponse>();

  before(async () => {
    server = http.createServer((req, res) => {
      switch (req.url) {
        case '/json':
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ version: '1.2.3', commit: 'abc1234', app: 'demo' }));
          break;
        case '/header':
          res.setHeader('X-App-Version', '2.0.0');
          res.end('hello');
          break;
        case '/both':
          res.setHeader('X-App-Version', 'from-header');
          res.end(JSON.stringify({ version: 'from-json' }));
          break;
        case '/number':
          res.end(JSON.stringify({ version: 7 }));
          break;
        case '/500':
          res.statusCode = 500;
          res.setHeader('X-App-Version', '1.0.0');
          res.end('boom');
          break;
        case '/html':
          res.end('<html>not json</html>');
          break;
        case '/noversion':
          res.end(JSON.stringify({ status: 'ok' }));
          break;
        case '/identity':
          res.end(JSON.stringify({ version: '1.3.0', commit: 'abc1234', sha256: 'AB'.repeat(32) }));
          break;
        case '/object-version':
          res.end(JSON.stringify({ version: { toString: 1 } }));
          break;
        case '/object-commit':
          res.end(JSON.stringify({ version: '1.0.0', commit: { evil: 1 } }));
          break;
        case '/bad-sha':
          res.end(JSON.stringify({ version: '1.0.0', sha256: 'not-a-hash' }));
          break;
        case '/hang':
          hanging.add(res); // never answers
          break;
        default:
          res.statusCode = 404;
          res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('reads the JSON version and commit', async () => {
    const r = await probeVersion(`${base}/json`);
    assert.equal(r.ok, true);
    assert.equal(r.version, '1.2.3');
    assert.equal(r.commit, 'abc1234');
    assert.equal(r.status, 200);
    assert.ok(r.latencyMs >= 0 && r.latencyMs < 2000);
  });

  it('falls back to the X-App-Version header, and prefers JSON when both exist', async () => {
    assert.equal((await probeVersion(`${base}/header`)).version, '2.0.0');
    assert.equal((await probeVersion(`${base}/both`)).version, 'from-json');
    assert.equal((await probeVersion(`${base}/number`)).version, '7');
  });

  it('classifies bad answers: status, not JSON, no version', async () => {
    const s500 = await probeVersion(`${base}/500`);
    assert.equal(s500.ok, false);
    assert.equal(s500.error?.kind, 'bad-answer');
    assert.match(s500.error!.message, /HTTP 500/);
    assert.equal(s500.version, undefined, 'a 500 never counts as serving a version');
    const html = await probeVersion(`${base}/html`);
    assert.equal(html.error?.kind, 'bad-answer');
    assert.match(html.error!.message, /not JSON/);
    const nov = await probeVersion(`${base}/noversion`);
    assert.equal(nov.error?.kind, 'bad-answer');
    assert.match(nov.error!.message, /no "version"/);
  });

  it('reads the served phar sha256 (lower-cased) as part of the identity', async () => {
    const r = await probeVersion(`${base}/identity`);
    assert.deepEqual([r.ok, r.version, r.commit, r.sha256], [true, '1.3.0', 'abc1234', 'ab'.repeat(32)]);
  });

  it('an answer of the wrong shape is "unreadable: <why>", never a version', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/object-version', /^unreadable: "version" is an object, expected a string$/],
      ['/object-commit', /^unreadable: "commit" is an object, expected a string$/],
      ['/bad-sha', /^unreadable: "sha256" is not 64 hex digits$/],
    ];
    for (const [url, re] of cases) {
      const r = await probeVersion(`${base}${url}`);
      assert.equal(r.ok, false, url);
      assert.equal(r.version, undefined);
      assert.equal(r.error?.kind, 'bad-answer');
      assert.match(r.error!.message, re);
    }
    assert.equal(answerShapeError({ version: ['1'] }), '"version" is an array, expected a string');
    assert.equal(answerShapeError({ version: 'x'.repeat(300) }), '"version" is longer than 256 characters');
    assert.equal(answerShapeError({ version: '1', commit: null, sha256: null }), undefined);
  });

  it('classifies refused, timeout and dns', async () => {
    const refused = await probeVersion(`http://127.0.0.1:${await freePort()}/`);
    assert.equal(refused.error?.kind, 'refused');
    const t0 = Date.now();
    const timeout = await probeVersion(`${base}/hang`, { timeoutMs: 150 });
    assert.equal(timeout.error?.kind, 'timeout');
    assert.ok(Date.now() - t0 < 1000, 'the timeout is honoured');
    const dns = await probeVersion('http://no-such-host.invalid/__version', { timeoutMs: 5000 });
    assert.ok(dns.error?.kind === 'dns' || dns.error?.kind === 'timeout', `got ${dns.error?.kind}`);
  });

  it('rejects with CancelledError when the signal aborts', async () => {
    const c = new AbortController();
    const p = probeVersion(`${base}/hang`, { timeoutMs: 5000, signal: c.signal });
    setTimeout(() => c.abort(), 20);
    await assert.rejects(p, CancelledError);
  });

  it('probes many URLs at once, each with its own timeout', async () => {
    const t0 = Date.now();
    const urls = [...Array.from({ length: 20 }, () => `${base}/json`), `${base}/hang`];
    const results = await probeAll(urls, { timeoutMs: 300 });
    assert.equal(results.filter((r) => r.ok).length, 20);
    assert.equal(results[20].error?.kind, 'timeout');
    assert.ok(Date.now() - t0 < 1500, 'probes ran concurrently');
  });
});

describe('servesBuild', () => {
  it('matches version, and commit when both sides know it (short or long)', () => {
    const build = { version: '1.0.0', commit: 'abcdef0123456789abcdef0123456789abcdef01' };
    assert.equal(servesBuild({ version: '1.0.0' }, build), true);
    assert.equal(servesBuild({ version: '1.0.0', commit: 'abcdef0' }, build), true);
    assert.equal(servesBuild({ version: '1.0.0', commit: 'fffffff' }, build), false);
    assert.equal(servesBuild({ version: '1.0.1', commit: 'abcdef0' }, build), false);
    assert.equal(servesBuild({ version: '1.0.0', commit: 'unknown' }, build), true);
  });

  it('compares the phar sha256 when both sides know it: two builds of one version differ there', () => {
    const build = { version: '1.3.0', commit: 'a'.repeat(40), sha256: 'c'.repeat(64) };
    assert.equal(servesBuild({ version: '1.3.0', commit: 'aaaaaaa', sha256: 'c'.repeat(64) }, build), true);
    assert.equal(servesBuild({ version: '1.3.0', commit: 'aaaaaaa', sha256: 'C'.repeat(64) }, build), true);
    assert.equal(servesBuild({ version: '1.3.0', commit: 'aaaaaaa', sha256: 'd'.repeat(64) }, build), false);
    assert.equal(servesBuild({ version: '1.3.0', commit: 'aaaaaaa' }, build), true, 'an app that does not report sha256');
    assert.equal(describeBuild(build), `1.3.0 (aaaaaaa, sha256 cccccccc)`);
  });
});
