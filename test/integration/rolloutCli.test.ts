import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { acquireLock } from '../../src/core/rollout/lock';
import { readSplit } from '../../src/core/traffic/apply';
import { nginxWorkers, startLab, waitReloaded } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';

// The CLI as tsc emits it (out/src/cli.js): the same code as dist/cli.js, without the bundle step.
const CLI = path.resolve(__dirname, '../../src/cli.js');
const local = new LocalTransport();

describe('rollout CLI verbs against a real lab', function () {
  this.timeout(120000);
  let lab: Lab;
  const cli = (...args: string[]) =>
    run('node', [CLI, ...args], { allowFailure: true, timeoutMs: 60000, env: { GIT_CONFIG_GLOBAL: '/dev/null' } });

  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  it('a ramp from another process is refused while someone holds the lock, naming them (exit 1)', async () => {
    const held = await acquireLock(lab.config, () => local, { operation: 'ramp to 50 %', user: 'carol@example.com' });
    try {
      const r = await cli('ramp', '--project', lab.projectDir, '25');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /locked by carol@example\.com on .+ \(ramp to 50 %\)/);
      assert.match(r.stderr, /unlock --force/);
    } finally {
      await held.release();
    }
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
  });

  it('ramp, verify-split --json, rollback --traffic, history --json', async () => {
    const before = await nginxWorkers(lab.lbs[0].prefix);
    const ramp = await cli('ramp', '--project', lab.projectDir, '25%');
    assert.equal(ramp.code, 0, ramp.stderr);
    assert.match(ramp.stdout, /^canary 25 % — gate passed/m);
    assert.match(ramp.stderr, /lb-1: 0 % → 25 % canary/);
    await waitReloaded(lab.lbs[0].prefix, before);

    const verify = await cli('verify-split', '--project', lab.projectDir, '--requests', '400', '--json');
    assert.equal(verify.code, 0, verify.stderr);
    const v = JSON.parse(verify.stdout) as { loadBalancers: Array<{ configured: number; canaryShare: number; errors: number }> };
    assert.equal(v.loadBalancers[0].configured, 25);
    assert.equal(v.loadBalancers[0].errors, 0);
    assert.ok(Math.abs(v.loadBalancers[0].canaryShare - 25) <= 2, verify.stdout);

    const rb = await cli('rollback', '--project', lab.projectDir, '--traffic');
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(rb.stdout.trim(), 'canary split 25 % → 0 %');

    const h = await cli('history', '--project', lab.projectDir, '--json');
    const events = JSON.parse(h.stdout) as Array<{ action: string; before?: unknown; after?: unknown; result: string }>;
    assert.deepEqual(
      events.map((e) => [e.action, e.after, e.result]),
      [
        ['ramp', { split: 25 }, 'ok'],
        ['gate', events[1].after, 'pass'],
        ['rollback', { split: 0 }, 'ok'],
      ],
    );
  });

  it('a lock owner file of the wrong shape or with escapes breaks neither status, ramp nor unlock --force', async () => {
    const lockDir = `${lab.config.loadBalancers[0].file}.lock`;
    for (const owner of [
      '{"user":{"toString":1},"owner":{"toString":1},"operation":{"toString":1}}',
      JSON.stringify({ token: 't', user: 'eve\u001b]0;x\u0007\r\nfake', host: 'far', pid: 1, operation: 'ramp\u001b[2J', since: 'now' }),
    ]) {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'owner.json'), owner);
      const status = await cli('status', '--project', lab.projectDir);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /locked by (unreadable: owner "token" is not a string|eve\\e\]0;x\\a\\r\\nfake on far \(ramp\\e\[2J\))/);
      const json = JSON.parse((await cli('status', '--project', lab.projectDir, '--json')).stdout) as {
        lock: { owner: string; user?: string };
      };
      if (owner.startsWith('{"user":{')) assert.match(json.lock.owner, /^unreadable: /);
      else assert.equal(json.lock.user, 'eve\u001b]0;x\u0007\r\nfake', '--json stays exact');
      const ramp = await cli('ramp', '--project', lab.projectDir, '25');
      assert.equal(ramp.code, 1);
      assert.match(ramp.stderr, /locked by /);
      for (const r of [status, ramp]) assert.doesNotMatch(r.stdout + r.stderr, /[\u0007\u001b]/);
      const unlock = await cli('unlock', '--project', lab.projectDir, '--force');
      assert.equal(unlock.code, 0, unlock.stderr);
      assert.match(unlock.stdout, /removed the lock of /);
      assert.doesNotMatch(unlock.stdout, /[\u0007\u001b]/);
      await assert.rejects(fs.stat(lockDir), /ENOENT/);
    }
  });

  it('bad input exits 2 with a hint', async () => {
    for (const args of [
      ['ramp', '--project', lab.projectDir],
      ['ramp', '--project', lab.projectDir, '101'],
      ['ramp', '--project', lab.projectDir, 'abc'],
      ['rollback', '--project', lab.projectDir],
      ['verify-split', '--project', lab.projectDir, '--requests', 'x'],
    ]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    const paused = await cli('pause', '--project', lab.projectDir);
    assert.equal(paused.code, 2, 'nothing is running after the rollback');
    assert.match(paused.stderr, /The rollout is done, not running/); // a rollback someone chose ends it
  });

  it('pre-flight: a ramp with the canary backend down is refused before any LB changes, naming it; --skip-preflight overrides', async () => {
    const canary = lab.backends.get('canary-1')!;
    await canary.stop();
    try {
      const r = await cli('ramp', '--project', lab.projectDir, '10');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Not ramping: canary backend canary-1 is not healthy/);
      assert.match(r.stderr, /nothing was changed/);
      assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
      const forced = await cli('ramp', '--project', lab.projectDir, '10', '--skip-preflight', '--no-gate');
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /pre-flight skipped/);
      assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 10);
    } finally {
      await canary.start();
      await cli('rollback', '--project', lab.projectDir, '--traffic');
    }
  });
});
