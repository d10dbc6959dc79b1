import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { RemoteHostFiles } from '../../src/core/exec/hostFiles';
import { LockedError, acquireHostLock, describeHolder, readHostLock } from '../../src/core/exec/hostLock';
import { run } from '../../src/core/exec/process';
import type { Transport } from '../../src/core/exec/transport';
import { acquireLock, readLock, removeLock } from '../../src/core/rollout/lock';
import { appendHistory, readHistory, historyPath } from '../../src/core/rollout/history';
import { readState, writeState } from '../../src/core/rollout/state';
import { percentile, gateUrl } from '../../src/core/rollout/gates';
import { currentSplit, nextStep } from '../../src/core/rollout/shared';

const local = new LocalTransport();
const transportOf = () => local;

describe('rollout lock, history, state (local files)', () => {
  let dir: string;
  let config: { projectDir: string; loadBalancers: LoadBalancerConfig[] };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-unit-'));
    const lbFile = path.join(dir, 'lb', 'upstream.conf');
    await fs.mkdir(path.dirname(lbFile));
    config = {
      projectDir: path.join(dir, 'project'),
      loadBalancers: [{ name: 'edge', file: lbFile, upstream: 'app', test: ['true'], reload: ['true'] }],
    };
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('puts the lock beside the first LB file and refuses a second holder by name', async () => {
    const a = await acquireLock(config, transportOf, { operation: 'ramp to 25 %', user: 'alice@example.com' });
    assert.equal(a.where, `edge:${config.loadBalancers[0].file}.lock`);
    assert.ok((await fs.stat(`${config.loadBalancers[0].file}.lock`)).isDirectory());
    await assert.rejects(acquireLock(config, transportOf, { operation: 'ramp', user: 'bob@example.com' }), (err: Error) => {
      assert.ok(err instanceof LockedError);
      assert.match(err.message, /locked by alice@example\.com on .+ \(ramp to 25 %\)/);
      return true;
    });
    const seen = await readLock(config, transportOf);
    assert.equal(seen?.user, 'alice@example.com');
    assert.equal(seen?.stale, false);
    await a.release();
    assert.equal(await readLock(config, transportOf), undefined);
    const b = await acquireLock(config, transportOf, { operation: 'ramp', user: 'bob@example.com' });
    await b.release();
  });

  it('a lock caught between its mkdir and its owner file still names its holder', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    await fs.mkdir(lockDir); // the holder has made the directory but not yet written owner.json
    const owner = JSON.stringify({
      token: 't',
      user: 'alice@example.com',
      owner: 'alice@example.com on vm',
      host: 'vm',
      pid: 1,
      since: 'now',
      operation: 'ramp to 10 %',
    });
    const writing = new Promise<void>((resolve, reject) =>
      setTimeout(() => fs.writeFile(path.join(lockDir, 'owner.json'), owner).then(resolve, reject), 150),
    );
    await assert.rejects(acquireLock(config, transportOf, { operation: 'ramp', user: 'bob@example.com' }), (err: Error) => {
      assert.ok(err instanceof LockedError);
      assert.match(err.message, /locked by alice@example\.com on vm \(ramp to 10 %\)/);
      return true;
    });
    await writing;
  });

  it('one of many concurrent takers wins', async () => {
    const tries = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => acquireLock(config, transportOf, { operation: 'x', user: `u${i}` })),
    );
    const won = tries.filter((t) => t.status === 'fulfilled');
    assert.equal(won.length, 1);
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
  });

  it('takes over a remote holder without a heartbeat for 10 min, and a dead process of this machine at once', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    const owner = (o: object) =>
      JSON.stringify({ token: 't', user: 'carol', host: 'far', pid: 1, operation: 'ramp', since: '2026-01-01T00:00:00Z', ...o });
    await fs.mkdir(lockDir);
    await fs.writeFile(path.join(lockDir, 'owner.json'), owner({}));
    await fs.writeFile(path.join(lockDir, 'heartbeat'), `${Math.floor(Date.now() / 1000) - 11 * 60}\n`);
    const a = await acquireLock(config, transportOf, { operation: 'x', user: 'alice' });
    assert.equal(await a.release(), true);

    await fs.mkdir(lockDir);
    // A pid that cannot exist on this host, with a fresh heartbeat: gone is gone, whatever the age.
    await fs.writeFile(path.join(lockDir, 'owner.json'), owner({ user: 'dave', host: os.hostname(), pid: 2 ** 22 + 12345 }));
    await fs.writeFile(path.join(lockDir, 'heartbeat'), `${Math.floor(Date.now() / 1000)}\n`);
    const seen = await readLock(config, transportOf);
    assert.equal(seen?.stale, true);
    assert.match(seen?.staleReason ?? '', /process \d+ .* is gone/);
    const b = await acquireLock(config, transportOf, { operation: 'x', user: 'alice' });
    await b.release();
  });

  it('never breaks a lock whose holder is alive on this machine, however old its heartbeat', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    await fs.mkdir(lockDir);
    // process.ppid: alive, and not us.
    const owner = { token: 't', user: 'erin', host: os.hostname(), pid: process.ppid, operation: 'ramp to 5 %', since: 'long ago' };
    await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
    await fs.writeFile(path.join(lockDir, 'heartbeat'), `${Math.floor(Date.now() / 1000) - 24 * 3600}\n`);
    const old = new Date(Date.now() - 24 * 3600 * 1000);
    await fs.utimes(lockDir, old, old);
    const seen = await readLock(config, transportOf);
    assert.equal(seen?.stale, false);
    assert.ok(seen!.ageMs > 23 * 3600 * 1000, 'the age is reported, it just does not count');
    await assert.rejects(acquireLock(config, transportOf, { operation: 'ramp', user: 'bob' }), LockedError);
    await assert.rejects(removeLock(config, transportOf, { force: false }), LockedError);
    assert.equal((await readLock(config, transportOf))?.user, 'erin', 'still there');
  });

  it('a remote holder is stale by the lock host’s clock, never by ours', async () => {
    // A "host" whose clock runs 2 h behind ours: the real remote scripts, with a `date` that lies.
    const skew = 2 * 3600;
    const bin = path.join(dir, 'bin');
    await fs.mkdir(bin);
    await fs.writeFile(path.join(bin, 'date'), `#!/bin/sh\necho $(( $(/bin/date +%s) - ${skew} ))\n`, { mode: 0o755 });
    const host = {
      host: 'far',
      exec: (args: readonly string[], options: object = {}) =>
        run(args[0], args.slice(1), { ...options, env: { PATH: `${bin}:${process.env.PATH}` } }),
    } as unknown as Transport;
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    const site = { files: new RemoteHostFiles(host), dir: lockDir, where: `far:${lockDir}`, subject: 'The rollout', hint: 'wait' };
    const owner = { token: 't', user: 'frank', host: 'far', pid: 1, operation: 'ramp', since: '2020-01-01T00:00:00Z' };
    const hostNow = Math.floor(Date.now() / 1000) - skew;
    await fs.mkdir(lockDir);
    await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
    // Its last heartbeat was 1 min ago by its clock (2 h 1 min by ours): held.
    await fs.writeFile(path.join(lockDir, 'heartbeat'), `${hostNow - 60}\n`);
    const fresh = await readHostLock(site);
    assert.ok(fresh!.ageMs >= 60000 && fresh!.ageMs < 65000, `age ${fresh!.ageMs}`);
    assert.equal(fresh!.stale, false);
    await assert.rejects(acquireHostLock(site, { operation: 'ramp', user: 'bob' }), LockedError);
    // 11 min by its clock: stale, and taken over.
    await fs.writeFile(path.join(lockDir, 'heartbeat'), `${hostNow - 11 * 60}\n`);
    assert.equal((await readHostLock(site))!.stale, true);
    const held = await acquireHostLock(site, { operation: 'ramp', user: 'bob' });
    const beat = Number(await fs.readFile(path.join(lockDir, 'heartbeat'), 'utf8'));
    assert.ok(Math.abs(beat - hostNow) <= 2, 'the new holder’s heartbeat is the host’s time, not ours');
    assert.equal(await held.release(), true);
  });

  it('an owner file of the wrong shape reads as unreadable, shows safely, and can be force-unlocked', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    for (const bad of [
      '{"user":{"toString":1}}',
      '{"evil":1}',
      '[1,2]',
      'not json',
      '{"token":"t","user":"\u001b]0;pwned\u0007","host":"h","pid":"1","operation":"x","since":"y"}',
    ]) {
      await fs.mkdir(lockDir);
      await fs.writeFile(path.join(lockDir, 'owner.json'), bad);
      const seen = await readLock(config, transportOf);
      assert.match(seen!.owner, /^unreadable: /, bad);
      assert.equal(seen!.stale, false, 'fresh: held until its heartbeat ages');
      await assert.rejects(acquireLock(config, transportOf, { operation: 'ramp', user: 'bob' }), (err: Error) => {
        assert.ok(err instanceof LockedError);
        assert.match(err.message, /locked by unreadable: /);
        assert.doesNotMatch(err.message, /\u001b|\u0007/);
        return true;
      });
      const removed = await removeLock(config, transportOf, { force: true });
      assert.match(removed!.owner, /^unreadable: /);
      assert.equal(await readLock(config, transportOf), undefined);
    }
  });

  it('owner text reaches a human only through safeText', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    await fs.mkdir(lockDir);
    const owner = { token: 't', user: 'eve\u001b[2J\r\nfake row', host: 'far', pid: 1, operation: 'ramp\u001b]0;x\u0007', since: 'now' };
    await fs.writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));
    await assert.rejects(acquireLock(config, transportOf, { operation: 'ramp', user: 'bob' }), (err: Error) => {
      assert.match(err.message, /locked by eve\\e\[2J\\r\\nfake row on far \(ramp\\e\]0;x\\a\)/);
      assert.doesNotMatch(err.message, /[\u0000-\u001f]/);
      return true;
    });
    const seen = await readLock(config, transportOf);
    assert.equal(seen?.user, owner.user, 'the data itself stays exact (--json)');
    assert.match(describeHolder(seen!), /^eve\\e\[2J/);
  });

  it('unlock removes a live lock only with force; release never removes someone else’s lock', async () => {
    const a = await acquireLock(config, transportOf, { operation: 'ramp', user: 'alice' });
    await assert.rejects(removeLock(config, transportOf, { force: false }), LockedError);
    const holder = await removeLock(config, transportOf, { force: true });
    assert.equal(holder?.user, 'alice');
    const b = await acquireLock(config, transportOf, { operation: 'ramp', user: 'bob' });
    await a.release(); // alice's late release must not remove bob's lock
    assert.equal((await readLock(config, transportOf))?.user, 'bob');
    await b.release();
    assert.equal(await removeLock(config, transportOf, { force: true }), undefined);
  });

  it('without an LB the lock lives in .rollout/', async () => {
    const noLb = { projectDir: config.projectDir, loadBalancers: [] };
    const a = await acquireLock(noLb, transportOf, { operation: 'x', user: 'alice' });
    assert.equal(a.where, path.join(config.projectDir, '.rollout', 'rollout.lock'));
    await a.release();
  });

  it('appends history lines and reads them back, skipping a torn line', async () => {
    await appendHistory(config.projectDir, {
      user: 'alice',
      action: 'ramp',
      target: 'edge',
      before: { split: 0 },
      after: { split: 5 },
      result: 'ok',
    });
    await fs.appendFile(historyPath(config.projectDir), '{"time":"x","act');
    await fs.appendFile(historyPath(config.projectDir), '\n');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => appendHistory(config.projectDir, { user: 'bob', action: 'gate', result: `r${i}` })),
    );
    const events = await readHistory(config.projectDir);
    assert.equal(events.length, 21);
    assert.deepEqual(Object.keys(events[0]), ['time', 'user', 'action', 'target', 'before', 'after', 'result']);
    assert.equal(events[0].user, 'alice');
    assert.equal((await readHistory(config.projectDir, { limit: 3 })).length, 3);
  });

  it('writes and reads state.json', async () => {
    assert.equal(await readState(config.projectDir), undefined);
    const s = { version: 1 as const, status: 'running' as const, steps: [1, 5], stepIndex: 0, split: 1, startedAt: 'a', updatedAt: 'b' };
    await writeState(config.projectDir, s);
    assert.deepEqual(await readState(config.projectDir), s);
    assert.deepEqual(
      (await fs.readdir(path.join(config.projectDir, '.rollout'))).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('computes percentiles, gate URLs, the current split and the next step', () => {
    assert.equal(percentile([], 95), 0);
    assert.equal(percentile([5], 95), 5);
    assert.equal(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        95,
      ),
      95,
    );
    assert.equal(percentile([1, 2, 3, 1000], 95), 1000);
    assert.equal(gateUrl({ upstream: '127.0.0.1:80', probe: 'http://x/__version' }), 'http://x/__version');
    assert.equal(gateUrl({ upstream: '127.0.0.1:80', probe: 'http://x/__version' }, '/health'), 'http://127.0.0.1:80/health');
    assert.equal(gateUrl({ upstream: '127.0.0.1:80' }), 'http://127.0.0.1:80/');
    const lb = (name: string, split?: number) => ({ name, host: 'local', file: 'f', split });
    const warnings: string[] = [];
    assert.equal(currentSplit([lb('a', 5), lb('b', 25)], { warn: (m) => warnings.push(m) }), 5);
    assert.match(warnings[0], /disagree: a 5 %, b 25 %/);
    assert.equal(currentSplit([lb('a'), lb('b')]), undefined);
    assert.equal(nextStep([1, 5, 25, 50, 100], undefined), 1);
    assert.equal(nextStep([1, 5, 25, 50, 100], 0), 1);
    assert.equal(nextStep([1, 5, 25, 50, 100], 5), 25);
    assert.equal(nextStep([1, 5, 25, 50, 100], 7.5), 25);
    assert.equal(nextStep([1, 5, 25, 50, 100], 100), undefined);
  });
});
