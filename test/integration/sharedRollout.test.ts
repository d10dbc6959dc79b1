/**
 * One rollout for the team: the state and history live beside the rollout lock on the first LB's
 * host, so two checkouts of the project (two teammates) see and change the same rollout. Real nginx
 * and php backends on loopback, the CLI as a teammate runs it.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import type { RunResult } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import type { ExecOptions, Transport } from '../../src/core/exec/transport';
import type { Artifact } from '../../src/core/phar/artifact';
import { readHistory } from '../../src/core/rollout/history';
import { runRollout } from '../../src/core/rollout/run';
import { SharedStore, sharedStoreDir } from '../../src/core/rollout/sharedStore';
import { StateFileError, applyEvent, stateText } from '../../src/core/rollout/state';
import type { HistoryEvent, RolloutState } from '../../src/core/rollout/types';
import { readSplit } from '../../src/core/traffic/apply';
import { readRolloutConfig } from '../../src/core/config/rolloutConfig';
import { loggingSsh, startLab } from '../../bench/trafficLab';
import { TransportPool } from '../../src/core/exec/transportFor';
import { pause } from '../../src/core/rollout/pause';
import { ramp } from '../../src/core/rollout/ramp';
import { rolloutStatus } from '../../src/core/rollout/status';
import { storeFor } from '../../src/core/rollout/sharedStore';
import { sshdAvailable, startSshd } from '../helpers/sshd';
import { skipUnlessCi } from '../helpers/skip';
import type { Lab } from '../../bench/trafficLab';
import { startLoad } from '../helpers/loadClient';
import type { LoadRun } from '../helpers/loadClient';
import { buildSampleApp } from '../helpers/sampleApp';
import { waitFor } from '../helpers/wait';

const CLI = path.resolve(__dirname, '../../src/cli.js');
const ENV = { GIT_CONFIG_GLOBAL: '/dev/null' };

function mixedLoad(url: string): LoadRun[] {
  return ['/', '/checkout', '/api/items'].map((p) => startLoad({ url: `${url}${p}`, concurrency: 2, maxDurationMs: 90000 }));
}

async function cli(args: string[]): Promise<RunResult> {
  return run('node', [CLI, ...args], { allowFailure: true, env: ENV });
}

async function json<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

interface StatusJson {
  rollout?: RolloutState;
  rolloutStore?: { where: string; shared: boolean; cached?: string };
}

/** The runner as a separate process (a teammate's terminal), its --json answer and exit code. */
function startRunner(projectDir: string): { done: Promise<{ code: number | null; stdout: string }>; kill(): void } {
  const child = spawn('node', [CLI, 'run', '--project', projectDir, '--no-precheck', '--json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...ENV },
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const done = new Promise<{ code: number | null; stdout: string }>((r) => child.once('exit', (code) => r({ code, stdout })));
  return { done, kill: () => child.kill('SIGKILL') };
}

/** A second checkout: the same rollout.json in another folder, nothing else. */
async function secondCheckout(lab: Lab): Promise<string> {
  const dir = path.join(lab.tmp, 'checkout-b');
  await fs.mkdir(dir, { recursive: true });
  await fs.copyFile(path.join(lab.projectDir, 'rollout.json'), path.join(dir, 'rollout.json'));
  return dir;
}

/** Counts what goes through a transport: each exec is one round trip to the host. */
class CountingTransport implements Transport {
  readonly host = 'local';
  trips = 0;
  private readonly inner = new LocalTransport();
  exec(args: readonly string[], options?: ExecOptions): Promise<RunResult> {
    this.trips++;
    return this.inner.exec(args, options);
  }
  command(): Promise<RunResult> {
    throw new Error('not used');
  }
  upload(): Promise<void> {
    throw new Error('not used');
  }
  async dispose(): Promise<void> {}
}

describe('one rollout for the team (shared state and history on the first LB host)', function () {
  this.timeout(180000);
  let tmp: string;
  let artifact: Artifact;
  let lab: Lab | undefined;
  let loads: LoadRun[] = [];

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-shared-'));
    artifact = await buildSampleApp(tmp);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    loads = [];
    await lab?.stop();
    lab = undefined;
  });

  it('the store scripts: one round trip per read and per write, compare and swap between checkouts, a garbled state located', async () => {
    const dir = path.join(tmp, 'store-host', 'app.conf.rollout');
    const t = new CountingTransport();
    const a = new SharedStore(t, dir, `${dir}/../app.conf.lock`, `edge:${dir}`, path.join(tmp, 'store-a'));
    const b = new SharedStore(new LocalTransport(), dir, '', `edge:${dir}`, path.join(tmp, 'store-b'));
    const state: RolloutState = {
      version: 1,
      status: 'running',
      steps: [10],
      stepIndex: 0,
      split: 10,
      startedAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      message: `it's "quoted" $(echo no) \`no\` \\ and\nmultiline --boundary end`,
    };
    await a.update(
      () => state,
      () => [{ action: 'ramp', result: 'ok' }],
    );
    assert.equal(t.trips, 2, 'first write: a read (nothing known yet) and the write');
    t.trips = 0;
    const read = await a.read({ lock: true });
    assert.equal(t.trips, 1, 'state + lock + new history: one round trip');
    assert.equal(read.state?.message, state.message, 'foreign-looking text goes through exactly');
    t.trips = 0;
    await a.update((s) => ({ ...s!, planIndex: 0 }));
    assert.equal(t.trips, 1, 'a state write: one round trip');
    // b pauses; a's next write (a runner's beat) keeps the pause and learns it in the same round trip.
    await applyEvent(b, 'pause', (s) => ({ ...s!, message: 'paused by bob' }));
    t.trips = 0;
    const after = await a.update(
      (s) => ({ ...s!, planIndex: 1 }),
      () => [{ action: 'analysis', result: 'pass' }],
    );
    assert.deepEqual([after?.status, after?.message, after?.planIndex], ['paused', 'paused by bob', 1]);
    assert.equal(t.trips, 2, 'a refused write carries the current state back: one more write, no read');
    // Twenty appends from two checkouts at once: every line whole, none lost.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).append({ time: new Date().toISOString(), user: 'u', action: 'gate', result: `r${i}` } as HistoryEvent),
      ),
    );
    const lines = (await fs.readFile(path.join(dir, 'history.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.length, 22);
    for (const l of lines) JSON.parse(l);
    await b.read();
    assert.equal((await readHistory(path.join(tmp, 'store-b'))).length, 22, 'the checkout copy has every event');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['history.jsonl', 'state.json'], 'no lock or temp file left behind');
    // A checkout that lost its shared.json does not push its copy of the history back.
    await fs.rm(path.join(tmp, 'store-b', '.rollout', 'shared.json'));
    await new SharedStore(new LocalTransport(), dir, '', `edge:${dir}`, path.join(tmp, 'store-b')).read();
    assert.equal((await fs.readFile(path.join(dir, 'history.jsonl'), 'utf8')).trim().split('\n').length, 22);
    // A torn state on the host: a located error for readers and writers, and nothing written over it.
    await fs.writeFile(path.join(dir, 'state.json'), stateText(state).slice(0, 50));
    const torn = await b.read();
    assert.ok(torn.stateError instanceof StateFileError);
    assert.match(torn.stateError.format(), new RegExp(`^edge:${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/state\\.json:\\d+:\\d+: `));
    await assert.rejects(
      a.update((s) => s),
      StateFileError,
    );
  });

  it('two checkouts see the same rollout and history; a pause from one stops the runner of the other at its next interval (exit 3)', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [{ weight: 50, observe: '120s' }] }, analysis: { interval: '1s', observe: '3s', minRequests: 5 } },
    });
    const a = lab.projectDir;
    const b = await secondCheckout(lab);
    loads = mixedLoad(lab.lbs[0].url);
    const runner = startRunner(a);
    try {
      await waitFor(
        'a window judged by the runner of checkout A, seen from checkout B',
        async () => ((await json<StatusJson>(['status', '--project', b])).rollout?.windows?.length ?? 0) >= 2,
        40000,
      );
      const [sa, sb] = await Promise.all([json<StatusJson>(['status', '--project', a]), json<StatusJson>(['status', '--project', b])]);
      assert.equal(sb.rolloutStore?.where, `lb-1:${sharedStoreDir(lab.config.loadBalancers[0].file)}`);
      assert.deepEqual(sa.rolloutStore, sb.rolloutStore);
      for (const k of ['startedAt', 'startedBy', 'steps', 'split', 'status'] as const)
        assert.deepEqual(sa.rollout?.[k], sb.rollout?.[k], k);
      assert.equal(sb.rollout?.runner?.pid !== undefined, true, 'B sees A’s runner');
      // B cannot start a second runner while A's is alive.
      const second = await cli(['run', '--project', b, '--no-precheck']);
      assert.equal(second.code, 2, second.stdout + second.stderr);
      assert.match(second.stderr + second.stdout, /already being run by .* \(pid \d+/);
      // B pauses; A's runner stops at its next interval.
      const pausedAt = Date.now();
      const pause = await cli(['pause', '--project', b]);
      assert.equal(pause.code, 0, pause.stderr);
      const out = await runner.done;
      const stoppedAfter = Date.now() - pausedAt;
      assert.equal(out.code, 3, out.stdout);
      const result = JSON.parse(out.stdout) as { result: string; reason: string };
      assert.equal(result.result, 'paused');
      assert.match(result.reason, /paused by .* at 50 %/);
      assert.ok(stoppedAfter < 1000 * 2 + 5000, `the runner stopped ${stoppedAfter} ms after the pause`);
    } finally {
      runner.kill();
      await runner.done;
    }
    // Both checkouts now show the same state and the same history, the pause in it.
    const [sa, sb] = await Promise.all([json<StatusJson>(['status', '--project', a]), json<StatusJson>(['status', '--project', b])]);
    assert.deepEqual(sa.rollout, sb.rollout);
    assert.equal(sb.rollout?.status, 'paused');
    assert.equal(sb.rollout?.runner, undefined, 'the runner took itself out');
    const [ha, hb] = await Promise.all([
      json<HistoryEvent[]>(['history', '--project', a]),
      json<HistoryEvent[]>(['history', '--project', b]),
    ]);
    assert.deepEqual(ha, hb);
    assert.ok(hb.some((e) => e.action === 'ramp' && e.result === 'ok'));
    assert.ok(hb.filter((e) => e.action === 'analysis').length >= 2);
    assert.ok(hb.some((e) => e.action === 'pause' && e.result === 'ok'));
    assert.equal((await readSplit(lab.config.loadBalancers[0], new LocalTransport())).split, 50, 'a pause leaves the split');
  });

  it('a runner killed mid-step is picked up from the shared state by another checkout: same step, re-confirmed live, observed again', async () => {
    lab = await startLab({
      artifacts: { stable: artifact, canary: artifact },
      rollout: { traffic: { steps: [{ weight: 50, observe: '4s' }] }, analysis: { interval: '1s', observe: '4s', minRequests: 5 } },
    });
    const b = await secondCheckout(lab);
    loads = mixedLoad(lab.lbs[0].url);
    // A's runner is held at its step by a long observation, then killed after its first window.
    await lab.reconfigure({ traffic: { steps: [{ weight: 50, observe: '120s' }] } });
    const runner = startRunner(lab.projectDir);
    try {
      await waitFor(
        'the first window of the runner in checkout A',
        async () => (await readHistory(lab!.projectDir)).some((e) => e.action === 'analysis'),
        40000,
      );
    } finally {
      runner.kill();
      await runner.done;
    }
    const before = await json<HistoryEvent[]>(['history', '--project', b]);
    const killed = await json<StatusJson>(['status', '--project', b]);
    assert.ok(killed.rollout?.runner, 'the killed runner is left in the shared state');
    assert.ok((killed.rollout?.windows?.length ?? 0) >= 1);
    // B, which never ran anything, picks the rollout up (its rollout.json observes 4 s).
    const config = await readRolloutConfig(b);
    assert.ok(config);
    const pool = new TransportPool();
    const store = storeFor(config, (t) => pool.get(t), pool);
    const tripsAt: number[] = [];
    let result;
    try {
      result = await runRollout(config, {
        user: 'bob@example.invalid',
        precheck: false,
        transports: pool,
        onWindow: () => tripsAt.push(store.roundTrips),
      });
    } finally {
      await pool.dispose();
    }
    // Each window after the first: one round trip to the store (event + heartbeat + window, compare-and-swapped).
    assert.deepEqual(
      tripsAt.slice(1).map((t, i) => t - tripsAt[i]),
      tripsAt.slice(1).map(() => 1),
    );
    assert.equal(result.result, 'completed', JSON.stringify(result, null, 2));
    assert.equal(result.steps.length, 1);
    assert.equal(result.steps[0].weight, 50, 'the same step');
    assert.equal(result.steps[0].resumed, 'live', 'the step was re-confirmed live on every LB');
    const ws = result.steps[0].windows;
    assert.ok(ws.length >= 3, `observed again from its start: ${ws.length} windows`);
    assert.ok(ws[ws.length - 1].toMs - ws[0].fromMs >= 4000, 'for the whole observe time of the step (4 s), after the pick-up');
    for (const w of result.steps[0].windows) {
      assert.ok(w.canary.requests > 0, 'no window without canary data');
      if (w.verdict === 'pass') assert.ok(w.canary.requests >= 5);
    }
    const afterKill = (await json<HistoryEvent[]>(['history', '--project', b])).slice(before.length);
    assert.ok(!afterKill.some((e) => e.action === 'ramp'), 'the split was live: not set again');
    const picked = afterKill.find((e) => e.action === 'run');
    assert.ok(picked, 'the pick-up is recorded');
    assert.deepEqual((picked.after as { confirmed: string; split: number }).confirmed, 'live');
    const windows = afterKill.filter((e) => e.action === 'analysis').map((e) => (e.after as { window: number }).window);
    assert.equal(windows[0], 1, 'the interrupted window is observed again, from window 1');
    assert.equal(windows.length, result.steps[0].windows.length);
    const final = await json<StatusJson>(['status', '--project', lab.projectDir]);
    assert.equal(final.rollout?.runner, undefined);
    assert.equal(final.rollout?.windows?.length, result.steps[0].windows.length, 'A sees the windows B judged');
  });

  it('migration: a checkout with a local state and history pushes them to the shared store once, losing nothing', async () => {
    lab = await startLab({ artifacts: { stable: artifact, canary: artifact }, rollout: { traffic: { steps: [10, 50] } } });
    const local = path.join(lab.projectDir, '.rollout');
    await fs.mkdir(local, { recursive: true });
    const old: RolloutState = {
      version: 1,
      status: 'paused',
      steps: [10, 50],
      stepIndex: -1,
      split: 0,
      startedAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      message: 'paused by alice before the shared store',
    };
    await fs.writeFile(path.join(local, 'state.json'), stateText(old));
    const events = ['build', 'deploy', 'pause'].map((action, i) => ({
      time: `2026-01-01T00:00:0${i}.000Z`,
      user: 'alice',
      action,
      result: 'ok',
    }));
    await fs.writeFile(path.join(local, 'history.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const b = await secondCheckout(lab);
    // The first access from A pushes; B then sees A's old rollout and history.
    assert.equal((await json<StatusJson>(['status', '--project', lab.projectDir])).rollout?.message, old.message);
    const sb = await json<StatusJson>(['status', '--project', b]);
    assert.equal(sb.rollout?.message, old.message);
    assert.equal(sb.rollout?.status, 'paused');
    const hb = await json<HistoryEvent[]>(['history', '--project', b]);
    assert.deepEqual(
      hb.map((e) => e.action),
      ['build', 'deploy', 'pause', 'migrated'],
    );
    // Once: more accesses from A push nothing again.
    await json<StatusJson>(['status', '--project', lab.projectDir]);
    await json<HistoryEvent[]>(['history', '--project', lab.projectDir]);
    const shared = await fs.readFile(path.join(sharedStoreDir(lab.config.loadBalancers[0].file), 'history.jsonl'), 'utf8');
    assert.equal(shared.match(/"migrated"/g)?.length, 1);
    assert.equal(shared.trim().split('\n').length, 4);
    assert.ok(await fs.stat(path.join(local, 'history.jsonl.pre-shared')), 'the local files are kept beside');
    // Resume from B acts on the shared state (the migrated one).
    const r = await cli(['resume', '--project', b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await json<StatusJson>(['status', '--project', lab.projectDir])).rollout?.status, 'running');
    // And an abort from B ends the rollout A sees.
    const rb = await cli(['rollback', '--traffic', '--project', b]);
    assert.equal(rb.code, 0, rb.stderr);
    const ended = (await json<StatusJson>(['status', '--project', lab.projectDir])).rollout;
    assert.deepEqual([ended?.status, ended?.endedBy], ['done', 'rollback']);
  });

  it('over ssh: the store lives on the LB host; a read is 1 ssh round trip, a state write 1, a pause from a fresh process 2', async function () {
    if (!sshdAvailable()) skipUnlessCi(this, '/usr/sbin/sshd or ssh-keygen is not installed');
    const sshd = await startSshd();
    const pools: TransportPool[] = [];
    try {
      lab = await startLab({ artifacts: { stable: artifact, canary: artifact }, lbOverrides: { 0: { ssh: sshd.destination } } });
      const logged = await loggingSsh(path.join(lab.tmp, 'ssh-log'));
      const pool = () => {
        const p = new TransportPool({ sshArgs: sshd.sshArgs, sshPath: logged.sshPath });
        pools.push(p);
        return p;
      };
      const lb = lab.config.loadBalancers[0];
      const p1 = pool();
      await ramp(lab.config, { percent: 10 }, { gate: false, user: 'ssh@example.com', transports: p1 });
      const dir = sharedStoreDir(lb.file);
      assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')).split, 10, 'the state is on the LB host');
      const store = storeFor(lab.config, (t) => p1.get(t), p1);
      await logged.reset();
      const read = await store.read({ lock: true });
      assert.equal(read.state?.split, 10);
      assert.equal(await logged.count(), 1, 'state + lock + new history: 1 ssh round trip');
      await logged.reset();
      const message = `it's "quoted" $(touch /tmp/no) \`no\` \\ ;|& and\nmultiline`;
      await store.update(
        (st) => ({ ...st!, message }),
        () => [{ action: 'note', result: message }],
      );
      assert.equal(await logged.count(), 1, 'a state write with its history event: 1 ssh round trip');
      assert.equal((await store.read()).state?.message, message, 'the text went through ssh exactly');
      // A pause from another process (a fresh pool: nothing known yet): a read and a write.
      const p2 = pool();
      await p2.get(lb).exec(['true']); // opens its master: a handshake, not a round trip of the pause
      await logged.reset();
      await pause(lab.config, { user: 'bob@example.com', transports: p2 });
      assert.equal(await logged.count(), 2, 'pause: read + compare-and-swap write');
      await logged.reset();
      const status = await rolloutStatus(lab.config, { transports: p2, history: 10 });
      assert.equal(status.state?.status, 'paused');
      assert.equal(status.store?.where, `lb-1:${dir}`);
      assert.ok(status.history?.some((e) => e.action === 'pause'));
      assert.equal(await logged.count(), 2, 'status: the store (state, lock, history) + the LB’s live split');
    } finally {
      await Promise.all(pools.map((p) => p.dispose()));
      await sshd.stop();
    }
  });
});
