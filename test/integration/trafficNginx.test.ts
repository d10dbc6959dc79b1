import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { run } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { applySplit, readSplit } from '../../src/core/traffic/apply';
import { renderUpstream } from '../../src/core/traffic/render';
import type { RenderInput } from '../../src/core/traffic/render';
import { ramp } from '../../src/core/rollout/ramp';
import { rollback } from '../../src/core/rollout/rollback';
import { nginxWorkers, startLab, waitReloaded } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import { startLoad } from '../helpers/loadClient';
import { buildTestPhar } from '../helpers/phpBackend';
import { deployArtifact } from '../../src/core/backends/deployBackends';
import { waitFor } from '../helpers/wait';
import * as http from 'node:http';

const local = new LocalTransport();

/** One GET on a fresh connection: status and version. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; version?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let version = res.headers['x-app-version'] as string | undefined;
        if (!version) {
          try {
            version = (JSON.parse(body) as { version?: string }).version;
          } catch {
            // not JSON
          }
        }
        resolve({ status: res.statusCode ?? 0, version });
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Canary share (percent) over `n` requests through `url`, sequential on keep-alive connections. */
async function observedShare(url: string, canaryVersion: string, n = 400): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let canary = 0;
  let next = 0;
  try {
    const worker = async () => {
      while (next < n) {
        next++;
        const r = await new Promise<{ status: number; version?: string }>((resolve, reject) => {
          const req = http.get(url, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.headers['x-app-version'] as string | undefined }));
          });
          req.on('error', reject);
        });
        assert.equal(r.status, 200);
        if (r.version === canaryVersion) canary++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  } finally {
    agent.destroy();
  }
  return (canary / n) * 100;
}

describe('traffic through real nginx', function () {
  this.timeout(180000);

  describe('rendered files pass nginx -t', () => {
    let prefix: string;
    before(async () => {
      prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'traffic-nginx-t-'));
      for (const d of ['conf', 'logs', 'temp']) await fs.mkdir(path.join(prefix, d));
    });
    after(() => fs.rm(prefix, { recursive: true, force: true }));

    it('a sample of weighted and sticky files (random splits, sizes, weights, keys) is valid nginx', async () => {
      const conf = path.join(prefix, 'conf', 'nginx.conf');
      const file = path.join(prefix, 'conf', 'upstream.conf');
      await fs.writeFile(
        conf,
        `pid logs/nginx.pid; error_log logs/error.log;
events {}
http {
  client_body_temp_path temp; proxy_temp_path temp; fastcgi_temp_path temp; uwsgi_temp_path temp; scgi_temp_path temp;
  include ${file};
  server { listen 127.0.0.1:1; location / { proxy_pass http://$app_backend; } }
}
`,
      );
      const arb = fc.record({
        bp: fc.integer({ min: 0, max: 10000 }),
        mode: fc.constantFrom('weighted' as const, 'sticky' as const),
        stable: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 20 }),
        canary: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 20 }),
        stickyKey: fc.constantFrom('address', 'cookie:sid', 'cookie:SESSION_1'),
        forceHeader: fc.constantFrom('X-Canary', 'X-Force-Side', 'canary'),
        host: fc.constantFrom('127.0.0.1', 'localhost', '[::1]'),
      });
      const samples = fc.sample(arb, { numRuns: 40, seed: 42 });
      // The edges too: 0 %, 0.01 %, 99.99 %, 100 %.
      for (const bp of [0, 1, 9999, 10000]) for (const mode of ['weighted', 'sticky'] as const) samples.push({ ...samples[0], bp, mode });
      for (const s of samples) {
        let port = 20000;
        const backends: RenderInput['backends'] = [
          ...s.stable.map((weight, i) => ({ name: `s-${i}`, group: 'stable' as const, upstream: `${s.host}:${port++}`, weight })),
          ...s.canary.map((weight, i) => ({ name: `c-${i}`, group: 'canary' as const, upstream: `${s.host}:${port++}`, weight })),
        ];
        const text = renderUpstream({
          lb: { name: 'edge', upstream: 'app' },
          backends,
          split: s.bp / 100,
          mode: s.mode,
          stickyKey: s.stickyKey,
          forceHeader: s.forceHeader,
          forceCookie: 'canary',
          time: new Date(),
        });
        await fs.writeFile(file, text);
        const r = await run('nginx', ['-p', prefix, '-c', 'conf/nginx.conf', '-t', '-q'], { allowFailure: true });
        assert.equal(r.code, 0, `nginx -t failed for ${JSON.stringify(s)}:\n${r.stderr}\n${text}`);
      }
    });
  });

  describe('weighted mode, one LB, under load', () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab();
    });
    after(async () => {
      await lab?.stop();
    });

    it('serves each configured split within 2 points over 400 requests', async () => {
      for (const split of [0, 1, 5, 10, 25, 33.33, 50, 66.67, 75, 90, 99, 100]) {
        const before = await workers(lab.lbs[0].prefix);
        await applySplit(lab.config, split, () => local);
        assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, split);
        await reloaded(lab.lbs[0].prefix, before);
        const share = await observedShare(`${lab.lbs[0].url}/`, lab.canaryVersion);
        assert.ok(Math.abs(share - split) <= 2, `split ${split} %: observed ${share} %`);
      }
    });

    it('20 ramp steps and 5 rollbacks under a steady stream lose no request', async () => {
      await applySplit(lab.config, 0, () => local);
      const load = startLoad({ url: `${lab.lbs[0].url}/`, concurrency: 6, maxDurationMs: 120000 });
      const splits = [1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 98, 99, 100];
      let rollbacks = 0;
      let result: Awaited<ReturnType<typeof load.stop>>;
      try {
        for (const [i, split] of splits.entries()) {
          await ramp(lab.config, { percent: split }, { gate: false, user: 'test@example.com' });
          if (i % 4 === 3) {
            await rollback(lab.config, { speed: 'traffic' }, { user: 'test@example.com' });
            rollbacks++;
          }
        }
      } finally {
        result = await load.stop();
      }
      assert.equal(rollbacks, 5);
      console.log(`      ${result.total} requests, p95 ${Math.round(result.p95Ms)} ms, versions ${JSON.stringify(result.versions)}`);
      assert.ok(result.total > 200, `only ${result.total} requests were made`);
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.total} failed`);
      assert.ok(result.versions[lab.canaryVersion] > 0 && result.versions[lab.stableVersion] > 0, JSON.stringify(result.versions));
      const h = (await fs.readFile(path.join(lab.projectDir, '.rollout', 'history.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id?: string; action: string; result: string });
      // Each change is written twice: "started" before it, its outcome (same id) after.
      const outcomes = h.filter((e) => e.result !== 'started');
      assert.equal(outcomes.filter((e) => e.action === 'ramp').length, 20);
      assert.equal(outcomes.filter((e) => e.action === 'rollback').length, 5);
      assert.deepEqual(
        h.filter((e) => e.result === 'started').map((e) => e.id),
        outcomes.map((e) => e.id),
      );
    });
  });

  describe('rolling restarts behind the managed file', () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab();
    });
    after(async () => {
      await lab?.stop();
    });

    it('a deploy restarting the stable group one by one under load loses no request (no server marked down)', async () => {
      const dir = path.join(lab.tmp, 'more');
      const v3 = await buildTestPhar({ dir, version: '3.0.0' });
      const v4 = await buildTestPhar({ dir, version: '4.0.0' });
      const stable = lab.config.backends.filter((b) => b.group === 'stable');
      for (const artifact of [v3, v4]) {
        const load = startLoad({ url: `${lab.lbs[0].url}/`, concurrency: 4, maxDurationMs: 60000 });
        let results;
        let r: Awaited<ReturnType<typeof load.stop>>;
        try {
          ({ results } = await deployArtifact({ config: lab.config, backends: stable, artifact }));
        } finally {
          r = await load.stop();
        }
        assert.deepEqual(
          results.map((x) => x.ok),
          [true, true],
        );
        assert.deepEqual(r.failures, [], `${r.failures.length} of ${r.total} failed during the deploy of ${artifact.version}`);
        assert.ok(r.versions[artifact.version] > 0, JSON.stringify(r.versions));
      }
    });
  });

  describe('sticky mode', () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab({
        rollout: { traffic: { mode: 'sticky', stickyKey: 'cookie:sid', forceHeader: 'X-Canary', forceCookie: 'canary' } },
      });
    });
    after(async () => {
      await lab?.stop();
    });

    it('keeps each client key on one side, splits keys by the configured share, and obeys the force header and cookie', async () => {
      const url = `${lab.lbs[0].url}/`;
      const { canaryVersion: c, stableVersion: s } = lab;
      // At 0 % the force header and cookie already reach the canary (testers go first).
      assert.equal((await get(url)).version, s);
      assert.equal((await get(url, { 'X-Canary': 'canary' })).version, c);
      assert.equal((await get(url, { cookie: 'canary=canary' })).version, c);

      let before = await workers(lab.lbs[0].prefix);
      await ramp(lab.config, { percent: 30 }, { gate: false, user: 'test@example.com' });
      await reloaded(lab.lbs[0].prefix, before);
      let onCanary = 0;
      const keys = Array.from({ length: 200 }, (_, i) => `client-${i}`);
      for (const key of keys) {
        const first = (await get(url, { cookie: `sid=${key}` })).version;
        for (let k = 0; k < 4; k++) assert.equal((await get(url, { cookie: `sid=${key}` })).version, first, `client ${key} changed side`);
        if (first === c) onCanary++;
      }
      const share = (onCanary / keys.length) * 100;
      assert.ok(share > 18 && share < 42, `${share} % of 200 keys on the canary at 30 %`);

      // The force header wins over the cookie, both ways, whatever the key's side.
      for (const key of keys.slice(0, 20)) {
        assert.equal((await get(url, { cookie: `sid=${key}`, 'X-Canary': 'canary' })).version, c);
        assert.equal((await get(url, { cookie: `sid=${key}`, 'X-Canary': 'stable' })).version, s);
        assert.equal((await get(url, { cookie: `sid=${key}; canary=stable` })).version, s);
        assert.equal((await get(url, { cookie: `sid=${key}; canary=canary`, 'X-Canary': 'stable' })).version, s);
      }
      // A client in the canary at 30 % stays there at 60 % (split_clients is cumulative).
      const canaryKeys: string[] = [];
      for (const key of keys) if ((await get(url, { cookie: `sid=${key}` })).version === c) canaryKeys.push(key);
      before = await workers(lab.lbs[0].prefix);
      await ramp(lab.config, { percent: 60 }, { gate: false, user: 'test@example.com' });
      await reloaded(lab.lbs[0].prefix, before);
      for (const key of canaryKeys) assert.equal((await get(url, { cookie: `sid=${key}` })).version, c);
      before = await workers(lab.lbs[0].prefix);
      await ramp(lab.config, { percent: 100 }, { gate: false, user: 'test@example.com' });
      await reloaded(lab.lbs[0].prefix, before);
      assert.equal((await get(url, { cookie: 'sid=anyone' })).version, c);
      assert.equal((await get(url, { cookie: 'sid=anyone', 'X-Canary': 'stable' })).version, s);
    });
  });

  describe('two LBs: a failing nginx -t or reload leaves both on their previous split', () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab({ lbs: 2 });
      const before = await Promise.all(lab.lbs.map((l) => workers(l.prefix)));
      await ramp(lab.config, { percent: 25 }, { gate: false, user: 'test@example.com' });
      await Promise.all(lab.lbs.map((l, i) => reloaded(l.prefix, before[i])));
    });
    after(async () => {
      await lab?.stop();
    });

    async function bothAt25(): Promise<void> {
      for (const [i, lb] of lab.config.loadBalancers.entries()) {
        assert.equal((await readSplit(lb, local)).split, 25, `${lb.name} file`);
        assert.equal(await fs.readFile(`${lb.file}.new`, 'utf8').catch(() => 'none'), 'none', 'no .new file left');
        await expectShare(`${lab.lbs[i].url}/`, lab.canaryVersion, 25);
      }
    }

    it('lb-2 rejects the new file (real nginx -t error): both stay at 25 %, none reloaded', async () => {
      const conf = lab.lbs[1].confFile;
      const good = await fs.readFile(conf, 'utf8');
      const before = await Promise.all(lab.lbs.map((l) => workers(l.prefix)));
      // The running nginx keeps its config; only a new test sees the broken main file.
      await fs.writeFile(conf, good.replace('events {', 'bogus_directive on;\nevents {'));
      try {
        await assert.rejects(ramp(lab.config, { percent: 50 }, { gate: false, user: 'test@example.com' }), (err: Error) => {
          assert.match(err.message, /load balancer "lb-2" rejected the new file/);
          assert.match(err.message, /unknown directive "bogus_directive"/);
          assert.match(err.message, /back on its previous file/);
          return true;
        });
      } finally {
        await fs.writeFile(conf, good);
      }
      await bothAt25();
      assert.deepEqual(await Promise.all(lab.lbs.map((l) => workers(l.prefix))), before, 'no LB was reloaded');
      const h = (await fs.readFile(path.join(lab.projectDir, '.rollout', 'history.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.match(h[h.length - 1].result, /^failed: load balancer "lb-2" rejected/);
    });

    it('lb-2 fails to reload (real nginx error): lb-1, already reloaded, goes back and is reloaded again', async () => {
      // nginx -s reload reads the pid file named here: it does not exist, so nginx itself fails.
      const badReload = [...lab.lbs[1].reload.slice(0, -2), '-g', `pid ${lab.tmp}/nowhere/nginx.pid;`, '-s', 'reload'];
      const config = { ...lab.config, loadBalancers: [lab.config.loadBalancers[0], { ...lab.config.loadBalancers[1], reload: badReload }] };
      const lb1Before = await workers(lab.lbs[0].prefix);
      await assert.rejects(ramp(config, { percent: 50 }, { gate: false, user: 'test@example.com' }), (err: Error) => {
        assert.match(err.message, /load balancer "lb-2" failed to reload/);
        assert.match(err.message, /nowhere\/nginx\.pid/);
        return true;
      });
      // lb-1 did reload (a new worker), and serves 25 % again: it was put back and reloaded once more.
      await reloaded(lab.lbs[0].prefix, lb1Before);
      await bothAt25();
    });
  });
});

const workers = nginxWorkers;
const reloaded = (prefix: string, before: string[]) => waitReloaded(prefix, before);

/** Polls the canary share through `url` until it is within 2 points of `split` (deadline 15 s). */
async function expectShare(url: string, canaryVersion: string, split: number): Promise<void> {
  let last = NaN;
  await waitFor(
    `${split} % canary at ${url}`,
    async () => {
      last = await observedShare(url, canaryVersion);
      return Math.abs(last - split) <= 2;
    },
    15000,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last observed ${last} %`);
  });
}
