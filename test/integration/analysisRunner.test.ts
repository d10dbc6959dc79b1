/**
 * The runner on real traffic (issue 9 item 7): real nginx writing the phar_rollout access log, real
 * php backends serving the sample app, a mixed request stream over several paths on fresh connections.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import type { Artifact } from '../../src/core/phar/artifact';
import { runRollout, runnerHealth } from '../../src/core/rollout/run';
import { readHistory } from '../../src/core/rollout/history';
import { readState } from '../../src/core/rollout/state';
import { readSplit } from '../../src/core/traffic/apply';
import { startLab } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { startLoad } from '../helpers/loadClient';
import { buildSampleApp } from '../helpers/sampleApp';
import { waitFor } from '../helpers/wait';
import type { LoadRun } from '../helpers/loadClient';

const CLI = path.resolve(__dirname, '../../src/cli.js');
const local = new LocalTransport();

/** GET /, GET and POST /checkout, GET /api/items, each on fresh connections. */
function mixedLoad(url: string, concurrency: Record<string, number> = {}): LoadRun[] {
  return ['/', '/checkout', '/api/items'].map((p) =>
    startLoad({ url: `${url}${p}`, concurrency: concurrency[p] ?? 2, maxDurationMs: 60000 }),
  );
}

/** A loopback webhook receiver: `silent` never answers (a dead receiver that accepts connections). */
async function receiver(silent = false): Promise<{ url: string; bodies: Array<{ event: string; text: string }>; close(): Promise<void> }> {
  const bodies: Array<{ event: string; text: string }> = [];
  const server = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      if (silent) return;
      bodies.push(JSON.parse(b) as { event: string; text: string });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function stopAll(loads: LoadRun[]): Promise<number> {
  const results = await Promise.all(loads.map((l) => l.stop()));
  return results.reduce((n, r) => n + r.total, 0);
}

describe('canary analysis runner on real traffic', function () {
  this.timeout(180000);
  let tmp: string;
  let artifact: Artifact;
  let lab: Lab | undefined;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-runner-'));
    artifact = await buildSampleApp(tmp);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  const analysis = { interval: '3s', observe: '6s', minRequests: 50 };

  it('a canary failing 5 % on /checkout only passes the synthetic gate on / and is rolled back by the log analysis within two intervals', async () => {
    const live = await receiver();
    const dead = await receiver(true);
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [50, 100] }, analysis, notify: { webhooks: [dead.url, live.url], timeout: '1s' } },
    });
    await fs.writeFile(path.join(lab.backends.get('canary-1')!.dir, 'FAIL'), '0.05 /checkout\n');
    const loads = mixedLoad(lab.lbs[0].url);
    try {
      const result = await runRollout(lab.config, { user: 'runner@example.invalid' });
      assert.equal(result.result, 'rolled-back', JSON.stringify(result, null, 2));
      assert.equal(result.steps.length, 1);
      const step = result.steps[0];
      assert.ok(step.windows.length <= 2, `rolled back after ${step.windows.length} windows`);
      const failed = step.windows[step.windows.length - 1];
      assert.equal(failed.verdict, 'fail');
      assert.equal(failed.canary.topErrors[0]?.path, '/checkout');
      assert.equal(failed.stable.errors, 0);
      assert.match(result.reason ?? '', /analysis failed at 50 %/);
      // The live receiver got the rollback although the dead one never answered.
      assert.deepEqual(
        live.bodies.map((b) => b.event),
        ['rollback'],
      );
      assert.match(live.bodies[0].text, /analysis failed at 50 %/);
    } finally {
      await stopAll(loads);
      await live.close();
      await dead.close();
    }
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
    const history = await readHistory(lab.projectDir);
    // The synthetic gate (on /) passed: only the access-log analysis saw the /checkout failures.
    assert.equal(history.find((e) => e.action === 'gate')?.result, 'pass');
    assert.ok(history.some((e) => e.action === 'analysis' && e.result.startsWith('fail')));
    assert.equal((await readState(lab.projectDir))?.status, 'failed');
  });

  it('a healthy canary walks every step to 100 % and is promoted (autoPromote)', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [{ weight: 50, observe: '3s' }, 100] }, analysis: { ...analysis, autoPromote: true } },
    });
    // Promote deploys the canary's artifact to stable from the project's artifact store.
    await fs.cp(artifact.dir, path.join(lab.projectDir, '.rollout', 'artifacts', artifact.id), { recursive: true });
    const loads = mixedLoad(lab.lbs[0].url);
    let result;
    try {
      result = await runRollout(lab.config, { user: 'runner@example.invalid' });
    } finally {
      await stopAll(loads);
    }
    assert.equal(result.result, 'completed', JSON.stringify(result, null, 2));
    assert.equal(result.promoted, true);
    assert.deepEqual(
      result.steps.map((s) => [s.weight, s.verdict]),
      [
        [50, 'pass'],
        [100, 'pass'],
      ],
    );
    for (const s of result.steps) for (const w of s.windows) assert.ok(w.canary.requests >= 50, JSON.stringify(w));
    assert.equal((await readState(lab.projectDir))?.status, 'done');
  });

  it('too little canary traffic is inconclusive, then paused (CLI exit 3), never passed', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [10, 100] }, analysis: { interval: '1s', observe: '2s', minRequests: 50 } },
    });
    const r = await run('node', [CLI, 'run', '--project', lab.projectDir, '--json'], {
      allowFailure: true,
      timeoutMs: 60000,
      env: { GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    assert.equal(r.code, 3, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout) as {
      result: string;
      reason: string;
      steps: Array<{ weight: number; verdict: string; windows: unknown[] }>;
    };
    assert.equal(out.result, 'paused');
    assert.equal(out.steps[0].verdict, 'inconclusive');
    assert.match(out.reason, /inconclusive at 10 %/);
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 10);
    assert.equal((await readState(lab.projectDir))?.status, 'paused');
  });

  it('a canary 200 ms slower on one path is failed by the relative p95 check', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [50, 100] }, analysis: { ...analysis, limits: { maxP95Ms: 5000 } } },
    });
    await fs.writeFile(path.join(lab.backends.get('canary-1')!.dir, 'SLOW'), '200 /api/items\n');
    // Clients wait for their answers: a slow path gets fewer requests than its users send. More
    // clients on /api/items keep its share of canary requests where real (open-loop) traffic has it.
    const loads = mixedLoad(lab.lbs[0].url, { '/': 1, '/checkout': 1, '/api/items': 8 });
    let result;
    try {
      result = await runRollout(lab.config, { user: 'runner@example.invalid', precheck: false });
    } finally {
      await stopAll(loads);
    }
    assert.equal(result.result, 'rolled-back', JSON.stringify(result, null, 2));
    const w = result.steps[0].windows.at(-1)!;
    assert.equal(w.canary.errors, 0);
    assert.ok(
      w.reasons.some((r) => /p95 .* stable's/.test(r)),
      w.reasons.join('\n'),
    );
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
  });

  it('a runner killed mid-step is resumed by the next run: the step is observed again from the start, not passed', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [{ weight: 50, observe: '60s' }] }, analysis: { interval: '1s', observe: '3s', minRequests: 20 } },
    });
    const loads = mixedLoad(lab.lbs[0].url);
    try {
      const child = spawn('node', [CLI, 'run', '--project', lab.projectDir, '--no-precheck'], {
        stdio: 'ignore',
        env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
      });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        await waitFor(
          'the first window of the killed runner',
          async () => (await readHistory(lab!.projectDir)).some((e) => e.action === 'analysis'),
          30000,
        );
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const killedAt = (await readHistory(lab.projectDir)).length;
      // The killed runner is left in the state; status tells a live runner from a gone one by its last window.
      const left = (await readState(lab.projectDir))?.runner;
      assert.ok(left, 'the killed runner is recorded in the state');
      assert.equal(runnerHealth(left, Date.parse(left.seenAt) + 1000).alive, true);
      assert.equal(runnerHealth(left, Date.parse(left.seenAt) + left.intervalMs * 3 + 31_000).alive, false);
      const status = await run('node', [CLI, 'status', '--project', lab.projectDir], {
        allowFailure: true,
        env: { GIT_CONFIG_GLOBAL: '/dev/null' },
      });
      assert.match(status.stdout, /^runner: .+ \(pid \d+\), last window \d+ s ago$/m);
      // The next run (with a short observation) picks the rollout up at 50 %.
      const config = await lab.reconfigure({ traffic: { steps: [{ weight: 50, observe: '3s' }] } });
      const started = Date.now();
      const result = await runRollout(config, { user: 'runner@example.invalid', precheck: false });
      assert.equal(result.result, 'completed', JSON.stringify(result, null, 2));
      assert.equal(result.steps[0].weight, 50);
      assert.ok(result.steps[0].windows.length >= 3, `observed ${result.steps[0].windows.length} windows`);
      assert.ok(Date.now() - started >= 3000);
      const after = (await readHistory(lab.projectDir)).slice(killedAt);
      assert.ok(!after.some((e) => e.action === 'ramp'), 'the split was already live: no new ramp');
      assert.ok(after.filter((e) => e.action === 'analysis').length >= 3);
      assert.equal((await readState(lab.projectDir))?.runner, undefined, 'a runner that ended takes itself out of the state');
    } finally {
      await stopAll(loads);
    }
  });
});
