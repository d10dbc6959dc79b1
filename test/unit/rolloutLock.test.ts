import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { LockedError, acquireLock, readLock, removeLock } from '../../src/core/rollout/lock';
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

  it('takes over a stale lock, and a lock of a dead process of this machine', async () => {
    const lockDir = `${config.loadBalancers[0].file}.lock`;
    await fs.mkdir(lockDir);
    await fs.writeFile(
      path.join(lockDir, 'owner.json'),
      JSON.stringify({ token: 't', owner: 'carol on far', host: 'far', pid: 1, since: 'old' }),
    );
    const old = new Date(Date.now() - 11 * 60 * 1000);
    await fs.utimes(lockDir, old, old);
    const a = await acquireLock(config, transportOf, { operation: 'x', user: 'alice' });
    await a.release();

    await fs.mkdir(lockDir);
    // A pid that cannot exist on this host.
    await fs.writeFile(
      path.join(lockDir, 'owner.json'),
      JSON.stringify({ token: 't', owner: 'dave', host: os.hostname(), pid: 2 ** 22 + 12345 }),
    );
    const b = await acquireLock(config, transportOf, { operation: 'x', user: 'alice' });
    await b.release();
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
