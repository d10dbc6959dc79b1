import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import type { LoadBalancerConfig, RolloutConfig } from '../../src/core/config/rolloutConfig';
import { CancelledError } from '../../src/core/errors';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { applySplit } from '../../src/core/traffic/apply';
import { reconcile } from '../../src/core/traffic/intent';
import { readAppliedConfig, readLive } from '../../src/core/traffic/live';
import { parseHeader } from '../../src/core/traffic/render';
import { startLab } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import { freePort } from '../../src/core/net/freePort';
import { waitFor } from '../helpers/wait';

const local = new LocalTransport();

/** One GET on a fresh connection: the version that answered (undefined on an error). */
function version(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve(res.statusCode === 200 ? (res.headers['x-app-version'] as string | undefined) : `status ${res.statusCode}`),
      );
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

/** A steady stream of fresh connections that records each request's start time and answer. */
function stream(url: string, concurrency = 4) {
  const seen: Array<{ start: number; version?: string }> = [];
  let stop = false;
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stop) {
      const start = performance.now();
      seen.push({ start, version: await version(url) });
    }
  });
  return {
    seen,
    stop: async () => {
      stop = true;
      await Promise.all(workers);
      return seen;
    },
  };
}

describe('traffic truth: a change counts once nginx serves it (real nginx)', function () {
  this.timeout(240000);
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  it('after a split change returns, 0 requests started after the return reach the old side (20 trials, fresh connections)', async () => {
    const url = `${lab.lbs[0].url}/`;
    const load = stream(url, 4);
    const wrong: string[] = [];
    const returns: Array<{ begin: number; at: number; want: string }> = [];
    try {
      for (let i = 0; i < 20; i++) {
        const split = i % 2 === 0 ? 100 : 0;
        const begin = performance.now();
        await applySplit(lab.config, split, () => local);
        returns.push({ begin, at: performance.now(), want: split === 100 ? lab.canaryVersion : lab.stableVersion });
        // Let requests flow on this split before the next change.
        const n = load.seen.length;
        await waitFor('requests after the change', () => load.seen.length > n + 20, 10000, 5);
      }
    } finally {
      await load.stop();
    }
    let checked = 0;
    for (const [k, r] of returns.entries()) {
      const end = returns[k + 1]?.begin ?? Infinity;
      // Requests STARTED after this return and before the next change began.
      for (const s of load.seen.filter((x) => x.start > r.at && x.start < end)) {
        checked++;
        if (s.version !== r.want) wrong.push(`trial ${k}: ${s.version ?? 'error'} instead of ${r.want}`);
      }
    }
    const failed = load.seen.filter((s) => s.version === undefined || s.version.startsWith('status'));
    console.log(`      ${load.seen.length} requests, ${checked} started after a return checked`);
    assert.deepEqual(wrong, []);
    assert.deepEqual(failed, [], 'no request failed');
    assert.ok(checked > 100, `only ${checked} requests checked`);
  });

  it('a reload nginx silently ignores (status port bound by another socket; nginx -t passes) is detected, reverted and reported', async () => {
    await applySplit(lab.config, 0, () => local);
    const lb = lab.config.loadBalancers[0];
    const before = await readLive(lb, local);
    const port = await freePort();
    const squatter = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
    try {
      const bad: RolloutConfig = { ...lab.config, loadBalancers: [{ ...lb, status: `127.0.0.1:${port}` }] };
      await assert.rejects(
        applySplit(bad, 50, () => local),
        (err: Error) => {
          assert.match(err.message, /load balancer "lb-1" nginx did not take the new configuration at reload/);
          assert.match(err.message, new RegExp(`bind\\(\\) to 127\\.0\\.0\\.1:${port} failed \\(98: Address already in use\\)`));
          assert.match(err.message, /Every load balancer is back on its previous file/);
          return true;
        },
      );
    } finally {
      squatter.close();
    }
    const after = await readLive(lb, local);
    assert.equal(after.generation, before.generation, 'the file is the previous one');
    assert.equal(after.live?.generation, before.generation, 'nginx serves the previous generation');
    assert.equal(after.drift, undefined);
    assert.equal(after.interrupted, undefined, 'no unfinished intent');
  });

  /** The LB with slow hooks around nginx -t and the reload, so a phase can be hit. */
  function hooked(lb: LoadBalancerConfig, dir: string): LoadBalancerConfig {
    const [cmd, ...test] = lb.test as string[];
    const [, ...reload] = lb.reload as string[];
    return {
      ...lb,
      test: ['sh', '-c', `sleep 0.4; touch ${dir}/in-test; sleep 1.5; exec "$0" "$@"`, cmd, ...test],
      reload: ['sh', '-c', `"$0" "$@" && touch ${dir}/in-reload && sleep 1.5`, cmd, ...reload],
    };
  }

  for (const phase of ['writing', 'after swap', 'during test', 'during reload'] as const) {
    it(`SIGKILL ${phase}, then reconcile(): the live split equals the recorded one, no drift, intent cleared`, async () => {
      await applySplit(lab.config, 0, () => local);
      const dir = path.join(lab.tmp, `kill-${phase.replace(/ /g, '-')}`);
      await fs.mkdir(dir, { recursive: true });
      const lb = hooked(lab.config.loadBalancers[0], dir);
      const config = { ...lab.config, loadBalancers: [lb] };
      const configFile = path.join(dir, 'config.json');
      await fs.writeFile(configFile, JSON.stringify(config));
      const child = spawn(process.execPath, [path.join(__dirname, '../../bench/trafficChild.js'), configFile, '50'], {
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const gen = () => fs.readFile(lb.file, 'utf8').then((t) => parseHeader(t)?.split);
        await waitFor(
          phase,
          async () => {
            if (phase === 'writing') return existsSync(`${lb.file}.intent`);
            if (phase === 'after swap') return (await gen()) === 50 && !existsSync(`${dir}/in-test`);
            if (phase === 'during test') return existsSync(`${dir}/in-test`);
            return existsSync(`${dir}/in-reload`);
          },
          20000,
          1,
        );
      } finally {
        // The whole process group: the node process and the LB script it runs.
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      }
      const r = await reconcile(config, () => local);
      assert.equal(r.busy.length, 0);
      const live = await readLive(lb, local);
      const applied = await readAppliedConfig(lb, local);
      assert.ok(live.live, `status answers: ${live.liveError}`);
      assert.equal(live.drift, undefined, 'file and nginx agree');
      assert.equal(live.interrupted, undefined, 'no unfinished intent');
      assert.equal(live.live.split, applied?.split, 'nginx serves the split of the recorded (applied) configuration');
      assert.equal(live.live.generation, applied?.generation);
      if (r.recovered.length) {
        assert.equal(live.live.split, 0);
        assert.match(
          r.recovered[0].description,
          /recovered an interrupted change to 50 % by child@example\.com .* back on 0 %, confirmed live/,
        );
      }
      console.log(`      ${phase}: ${r.recovered[0]?.description ?? 'nothing to recover'}`);
    });
  }

  for (const phase of ['test', 'reload'] as const) {
    it(`an abort during ${phase}: previous split confirmed live, "Cancelled, every load balancer is back on 0 %"`, async () => {
      await applySplit(lab.config, 0, () => local);
      const dir = path.join(lab.tmp, `abort-${phase}`);
      await fs.mkdir(dir, { recursive: true });
      const lb = hooked(lab.config.loadBalancers[0], dir);
      const config = { ...lab.config, loadBalancers: [lb] };
      const ac = new AbortController();
      const watcher = waitFor(`in ${phase}`, () => existsSync(`${dir}/in-${phase}`), 20000, 5).then(() => ac.abort());
      await assert.rejects(
        applySplit(config, 50, () => local, { signal: ac.signal }),
        (err: Error) => {
          assert.ok(err instanceof CancelledError, err.message);
          assert.equal(err.message, 'Cancelled, every load balancer is back on 0 %');
          return true;
        },
      );
      await watcher;
      const live = await readLive(lb, local);
      assert.equal(live.live?.split, 0);
      assert.equal(live.split, 0);
      assert.equal(live.drift, undefined);
      assert.equal(live.interrupted, undefined);
    });
  }
});
