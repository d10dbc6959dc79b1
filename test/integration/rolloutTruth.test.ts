import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import { run } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { STARTED, readHistory } from '../../src/core/rollout/history';
import { ramp } from '../../src/core/rollout/ramp';
import { readState } from '../../src/core/rollout/state';
import { rolloutStatus } from '../../src/core/rollout/status';
import { readLive } from '../../src/core/traffic/live';
import { parseHeader } from '../../src/core/traffic/render';
import { renderFor } from '../../src/core/traffic/apply';
import { startLab } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import { waitFor } from '../helpers/wait';

// The CLI as tsc emits it (out/src/cli.js), and the crash child of the traffic tests.
const CLI = path.resolve(__dirname, '../../src/cli.js');
const CHILD = path.resolve(__dirname, '../../bench/trafficChild.js');
const local = new LocalTransport();
const ENV = { GIT_CONFIG_GLOBAL: '/dev/null' };

describe('rollout truth: live split, recovery, cancelled gate, emergency rollback (real nginx)', function () {
  this.timeout(180000);
  let lab: Lab;
  let lb: LoadBalancerConfig;
  const opts = { user: 'tester@example.com' };
  const cli = (...args: string[]) => run('node', [CLI, ...args], { allowFailure: true, timeoutMs: 60000, env: ENV });

  before(async () => {
    lab = await startLab();
    lb = lab.config.loadBalancers[0];
  });
  after(async () => {
    await lab?.stop();
  });

  it('a change killed during nginx -t: status reports the live 0 % beside the file’s 50 %; the next ramp recovers first and records it', async () => {
    // The lab starts on 0 %, live. A child applies 50 % with an nginx -t that stalls; it is SIGKILLed
    // inside the test (the stalled test, in the script's own process group, is killed by its pid).
    // A first applied change learns nginx's pid file from nginx -T (the stalling test below is no nginx).
    await ramp(lab.config, { percent: 0 }, { ...opts, gate: false });
    const dir = path.join(lab.tmp, 'kill-in-test');
    await fs.mkdir(dir, { recursive: true });
    const hooked = { ...lb, test: ['sh', '-c', `echo $$ > ${dir}/test.pid; touch ${dir}/in-test; exec sleep 30`] };
    const configFile = path.join(dir, 'config.json');
    await fs.writeFile(configFile, JSON.stringify({ ...lab.config, loadBalancers: [hooked] }));
    const child = spawn(process.execPath, [CHILD, configFile, '50'], { detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor('nginx -t to run', () => existsSync(`${dir}/in-test`), 20000, 5);
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
      await exited;
      const pid = Number(await fs.readFile(`${dir}/test.pid`, 'utf8').catch(() => '0'));
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
    assert.equal(parseHeader(await fs.readFile(lb.file, 'utf8'))?.split, 50, 'the file says 50 %');

    const status = await rolloutStatus(lab.config, opts);
    const s = status.loadBalancers[0];
    assert.equal(s.split, 0, 'status reports what nginx serves');
    assert.equal(s.fileSplit, 50);
    assert.match(s.drift!, /^file says 50 %, nginx serves 0 %: a change to 50 % by child@example\.com \(pid \d+ on .+\) did not finish/);
    assert.match(s.drift!, /run "phar-rollout recover"/);
    const text = await cli('status', '--project', lab.projectDir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^LB lb-1 \(local\): canary 0 % live, weighted\n {2}file says 50 %, nginx serves 0 %/m);

    const r = await ramp(lab.config, { percent: 25 }, { ...opts, gate: false });
    assert.equal(r.before, 0, 'the ramp starts from the recovered, served split');
    assert.equal(r.recovered?.length, 1);
    assert.match(
      r.recovered![0].description,
      /recovered an interrupted change to 50 % by child@example\.com .*back on 0 %, confirmed live/,
    );
    const events = await readHistory(lab.projectDir, { all: true });
    const recovered = events.find((e) => e.action === 'recovered');
    assert.ok(recovered, 'a "recovered" event is in the history');
    assert.equal(recovered.user, 'tester@example.com');
    assert.deepEqual(recovered.after, { split: 0 });
    assert.equal((recovered.before as { split: number }).split, 50);
    const to25 = events.findIndex((e) => e.action === 'ramp' && e.result === STARTED && (e.after as { split?: number })?.split === 25);
    assert.ok(to25 >= 0 && events.indexOf(recovered) < to25, 'recorded before the ramp started');
    const live = await readLive(lb, local);
    assert.equal(live.live?.split, 25);
    assert.equal(live.drift, undefined);
    assert.equal(live.interrupted, undefined);
  });

  it('a file nginx does not serve (written, never reloaded): status says so, recover puts the served file back without touching traffic', async () => {
    await ramp(lab.config, { percent: 10 }, { ...opts, gate: false });
    await fs.writeFile(lb.file, renderFor(lab.config, lb, 40, new Date()));
    const s = (await rolloutStatus(lab.config, opts)).loadBalancers[0];
    assert.equal(s.split, 10);
    assert.equal(s.fileSplit, 40);
    assert.match(s.drift!, /^file says 40 %, nginx serves 10 %: run "phar-rollout recover" to put the file back/);
    const r = await cli('recover', '--project', lab.projectDir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /lb-1: file put back to what nginx serves \(40 % → 10 %\); traffic unchanged/);
    const live = await readLive(lb, local);
    assert.equal(live.split, 10);
    assert.equal(live.live?.split, 10);
    assert.equal(live.drift, undefined);
    assert.equal((await readHistory(lab.projectDir)).pop()?.action, 'repaired');
    const again = await cli('recover', '--project', lab.projectDir);
    assert.match(again.stdout, /^nothing to recover/);
  });

  it('the intent of a split change names the user (ctx.user) as its owner', async () => {
    await ramp(lab.config, { percent: 5 }, { ...opts, gate: false });
    const intent = JSON.parse((await fs.readFile(`${lb.file}.intent.done`, 'utf8')).replace(/^[^{]*/, '')) as { owner: string };
    assert.equal(intent.owner, 'tester@example.com');
  });

  it('Ctrl-C during the gate (CLI): back on the previous split, confirmed live, exit 130 saying where every LB is', async () => {
    await ramp(lab.config, { percent: 5 }, { ...opts, gate: false });
    const raw = JSON.parse(await fs.readFile(path.join(lab.projectDir, 'rollout.json'), 'utf8')) as Record<string, unknown>;
    await lab.reconfigure({ gates: { ...(raw.gates as object), samples: 10000 } });
    try {
      const child = spawn(process.execPath, [CLI, 'ramp', '--project', lab.projectDir, '30'], { env: { ...process.env, ...ENV } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      // The gate runs once the 30 % step is recorded live.
      await waitFor(
        'the 30 % step to be live',
        async () =>
          (await readHistory(lab.projectDir)).some(
            (e) => e.action === 'ramp' && e.result === 'ok' && (e.after as { split?: number })?.split === 30,
          ),
        30000,
        10,
      );
      child.kill('SIGINT');
      assert.equal(await code, 130, stderr);
      assert.match(stderr, /Cancelled during the gate at 30 %: every load balancer is back on 5 % \(confirmed live\)\./);
    } finally {
      await lab.reconfigure({ gates: raw.gates });
    }
    const live = await readLive(lb, local);
    assert.equal(live.live?.split, 5);
    assert.equal(live.split, 5);
    assert.equal((await readState(lab.projectDir))?.split, 5);
    assert.equal((await readHistory(lab.projectDir)).pop()?.result, 'ok (gate at 30 % cancelled, back to the previous step)');
  });

  it('rollout.json with an error: status shows the live split and backends, rollback --traffic returns to 0 % live from the applied configuration', async () => {
    await ramp(lab.config, { percent: 25 }, { ...opts, gate: false });
    const file = path.join(lab.projectDir, 'rollout.json');
    const good = await fs.readFile(file, 'utf8');
    // One typo, as autosave would keep it: a missing comma between two properties.
    await fs.writeFile(file, good.replace(/,\n(\s*)"gates"/, '\n$1"gates"'));
    try {
      const status = await cli('status', '--project', lab.projectDir);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^LB lb-1 \(local\): canary 25 % live/m);
      assert.match(status.stdout, /^stable-1 +stable +1\.0\.0/m);
      assert.match(status.stdout, /rollout\.json has errors — showing the last applied configuration \(lb-1:.*\.applied\.json/);
      assert.match(status.stdout, /rollout\.json:\d+:\d+: JSON syntax error/);

      const rb = await cli('rollback', '--project', lab.projectDir, '--traffic');
      assert.equal(rb.code, 0, rb.stderr);
      assert.match(rb.stdout, /^canary split 25 % → 0 %$/m);
      assert.match(rb.stdout, /used the last applied configuration, from lb-1:.*\.applied\.json/);
      assert.match(rb.stderr, /rollout\.json:\d+:\d+: JSON syntax error/);
      const live = await readLive(lb, local);
      assert.equal(live.live?.split, 0);
      assert.equal(live.drift, undefined);
      assert.equal((await readHistory(lab.projectDir)).pop()?.action, 'rollback');
    } finally {
      await fs.writeFile(file, good);
    }
  });

  it('rollout.json broken and no LB to be found: rollback --traffic refuses, saying why (exit 2)', async () => {
    const other = path.join(lab.tmp, 'no-lbs');
    await fs.mkdir(other, { recursive: true });
    await fs.writeFile(path.join(other, 'rollout.json'), '{ "backends": [ }');
    const rb = await cli('rollback', '--project', other, '--traffic');
    assert.equal(rb.code, 2, rb.stderr);
    assert.match(rb.stderr, /rollout\.json:1:\d+: JSON syntax error/);
    assert.match(rb.stderr, /the last applied configuration could not be found either: .*loadBalancers\.json does not exist/);
  });
});
