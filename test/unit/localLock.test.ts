import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { withLocalLock } from '../../src/core/rollout/state';

describe('withLocalLock (the checkout cache and state locks)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-lock-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('takes over at once a lock whose holder was killed (its pid is gone)', async () => {
    const lock = path.join(dir, 'cache.lock');
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim(); // a pid that has exited
    await fs.mkdir(lock);
    await fs.writeFile(path.join(lock, 'pid'), dead);
    const started = Date.now();
    assert.equal(await withLocalLock(lock, () => Promise.resolve('ran')), 'ran');
    assert.ok(Date.now() - started < 2000, `took over in ${Date.now() - started} ms, not after the 30 s staleness`);
    await assert.rejects(fs.stat(lock), 'released afterwards');
  });

  it('takes over a lock without a pid once it is older than a holder needs', async () => {
    const lock = path.join(dir, 'state.json.lock');
    await fs.mkdir(lock);
    const old = new Date(Date.now() - 5000);
    await fs.utimes(lock, old, old);
    assert.equal(await withLocalLock(lock, () => Promise.resolve(1)), 1);
  });

  it('waits for a live holder and runs after it', async () => {
    const lock = path.join(dir, 'live.lock');
    const order: string[] = [];
    let release: (() => void) | undefined;
    const first = withLocalLock(lock, () => new Promise<void>((r) => (release = r)).then(() => void order.push('first')));
    const deadline = Date.now() + 5000;
    while (release === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5)); // the first holds it
    assert.ok(release, 'the first holder runs');
    // The holder is this live process: the second waits (mkdir fails, the pid is alive) until it is released.
    const second = withLocalLock(lock, () => Promise.resolve(void order.push('second')));
    await new Promise((r) => setTimeout(r, 100)); // long enough for the second to have run, were it not waiting
    assert.deepEqual(order, [], 'the second waits while the first holds the lock');
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first', 'second']);
  });
});
