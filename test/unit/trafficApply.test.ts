import * as assert from 'node:assert/strict';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import type { RunResult } from '../../src/core/exec/process';
import type { Transport } from '../../src/core/exec/transport';
import type { HostFiles, LockProbe } from '../../src/core/exec/hostFiles';
import { applyFiles, applySplit, readSplit } from '../../src/core/traffic/apply';
import { CancelledError, OperationError } from '../../src/core/errors';

/** An in-memory host: files in a map, nginx commands answered by a script. */
class FakeHost implements HostFiles {
  readonly files = new Map<string, string>();
  failWrite = false;
  constructor(readonly host: string) {}
  async read(file: string) {
    return this.files.get(file);
  }
  async writeNew(file: string, text: string) {
    if (this.failWrite) throw new Error('disk full');
    this.files.set(`${file}.new`, text);
  }
  async swapIn(file: string) {
    const had = this.files.has(file);
    if (had) this.files.set(`${file}.prev`, this.files.get(file)!);
    this.files.set(file, this.files.get(`${file}.new`)!);
    this.files.delete(`${file}.new`);
    return { hadPrevious: had };
  }
  async restore(file: string, had: boolean) {
    if (had) {
      this.files.set(file, this.files.get(`${file}.prev`)!);
      this.files.delete(`${file}.prev`);
    } else this.files.delete(file);
  }
  async discardNew(file: string) {
    this.files.delete(`${file}.new`);
  }
  async createLock(): Promise<LockProbe> {
    return { created: true };
  }
  async readLock() {
    return undefined;
  }
  async removeLock() {
    return true;
  }
  async touchLock() {}
}

type Answer = { code: number; stderr?: string };

function fakeTransport(host: string, calls: string[], answer: (step: string) => Answer): Transport {
  return {
    host,
    async exec() {
      throw new Error('not used');
    },
    async command(spec) {
      const step = Array.isArray(spec) ? spec.join(' ') : spec;
      calls.push(`${host}:${step}`);
      const a = answer(step);
      const r: RunResult = { command: step, args: [], code: a.code, signal: null, stdout: '', stderr: a.stderr ?? '', durationMs: 1 };
      return r;
    },
    async upload() {},
    async dispose() {},
  };
}

function lb(name: string): LoadBalancerConfig {
  return { name, file: `/etc/nginx/${name}.conf`, upstream: 'myapp', test: ['test'], reload: ['reload'] };
}

const config = {
  backends: [
    { name: 'web-1', group: 'stable' as const, upstream: '127.0.0.1:9001', dir: '/x', weight: 1 },
    { name: 'web-2', group: 'canary' as const, upstream: '127.0.0.1:9002', dir: '/y', weight: 1 },
  ],
  traffic: { mode: 'weighted' as const, steps: [1, 5, 25, 50, 100], stickyKey: 'address', forceHeader: 'X-Canary', forceCookie: 'canary' },
};

describe('traffic apply (fake hosts)', () => {
  let hosts: Map<string, FakeHost>;
  let calls: string[];
  const filesFor = (l: LoadBalancerConfig) => hosts.get(l.name)!;
  const OLD = '# phar-rollout split=5.00 mode=weighted time=2026-01-01T00:00:00.000Z\nold\n';

  beforeEach(() => {
    hosts = new Map([
      ['a', new FakeHost('a')],
      ['b', new FakeHost('b')],
    ]);
    for (const [name, h] of hosts) h.files.set(`/etc/nginx/${name}.conf`, OLD);
    calls = [];
  });

  function setup(answer: (host: string, step: string) => Answer = () => ({ code: 0 })) {
    const lbs = [lb('a'), lb('b')];
    const transports = new Map(lbs.map((l) => [l.name, fakeTransport(l.name, calls, (s) => answer(l.name, s))]));
    return { lbs, transportOf: (l: LoadBalancerConfig) => transports.get(l.name)! };
  }

  it('swaps, tests everywhere, then reloads everywhere, keeping .prev', async () => {
    const { lbs, transportOf } = setup();
    const applied = await applySplit({ ...config, loadBalancers: lbs }, 25, transportOf, { filesFor, time: new Date(0) });
    assert.deepEqual(calls, ['a:test', 'b:test', 'a:reload', 'b:reload']);
    for (const [name, h] of hosts) {
      assert.match(h.files.get(`/etc/nginx/${name}.conf`)!, /^# phar-rollout split=25\.00 /);
      assert.equal(h.files.get(`/etc/nginx/${name}.conf.prev`), OLD);
      assert.equal(h.files.has(`/etc/nginx/${name}.conf.new`), false);
    }
    assert.deepEqual(
      applied.map((a) => [a.name, a.before?.split, a.after?.split, a.beforeText]),
      [
        ['a', 5, 25, OLD],
        ['b', 5, 25, OLD],
      ],
    );
  });

  it('a failing test on one LB puts every LB back and reloads none', async () => {
    const { lbs, transportOf } = setup((host, step) =>
      host === 'b' && step === 'test' ? { code: 1, stderr: 'nginx: [emerg] unknown directive "x" in b.conf:3' } : { code: 0 },
    );
    await assert.rejects(applySplit({ ...config, loadBalancers: lbs }, 25, transportOf, { filesFor }), (err: Error) => {
      assert.ok(err instanceof OperationError);
      assert.match(err.message, /load balancer "b" rejected the new file/);
      assert.match(err.message, /unknown directive "x"/);
      assert.match(err.message, /Every load balancer is back on its previous file/);
      return true;
    });
    for (const [name, h] of hosts) assert.equal(h.files.get(`/etc/nginx/${name}.conf`), OLD);
    assert.ok(!calls.some((c) => c.endsWith('reload')), calls.join());
  });

  it('a failing reload on one LB restores all and reloads the one that had reloaded', async () => {
    const { lbs, transportOf } = setup((host, step) =>
      host === 'b' && step === 'reload' ? { code: 1, stderr: 'nginx: [error] invalid PID number' } : { code: 0 },
    );
    await assert.rejects(
      applySplit({ ...config, loadBalancers: lbs }, 25, transportOf, { filesFor }),
      /load balancer "b" failed to reload[\s\S]*invalid PID number[\s\S]*back on its previous file/,
    );
    for (const [name, h] of hosts) assert.equal(h.files.get(`/etc/nginx/${name}.conf`), OLD);
    assert.equal(calls.filter((c) => c === 'a:reload').length, 2, calls.join());
  });

  it('a failing write changes nothing and leaves no .new file', async () => {
    hosts.get('b')!.failWrite = true;
    const { lbs, transportOf } = setup();
    await assert.rejects(
      applySplit({ ...config, loadBalancers: lbs }, 25, transportOf, { filesFor }),
      /"b".*disk full[\s\S]*Nothing was changed/,
    );
    for (const [name, h] of hosts) {
      assert.equal(h.files.get(`/etc/nginx/${name}.conf`), OLD);
      assert.deepEqual([...h.files.keys()], [`/etc/nginx/${name}.conf`]);
    }
    assert.deepEqual(calls, []);
  });

  it('a cancel before the swap changes nothing', async () => {
    const { lbs, transportOf } = setup();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(applySplit({ ...config, loadBalancers: lbs }, 25, transportOf, { filesFor, signal: ac.signal }), CancelledError);
    for (const [name, h] of hosts) assert.equal(h.files.get(`/etc/nginx/${name}.conf`), OLD);
  });

  it('creates the file where there was none, and removes it again on failure', async () => {
    for (const h of hosts.values()) h.files.clear();
    const { lbs, transportOf } = setup((host, step) => (host === 'a' && step === 'test' ? { code: 1, stderr: 'bad' } : { code: 0 }));
    await assert.rejects(
      applyFiles(
        lbs.map((l) => ({ lb: l, transport: transportOf(l), text: 'x' })),
        { filesFor },
      ),
      /"a" rejected/,
    );
    for (const h of hosts.values()) assert.equal(h.files.size, 0);
  });

  it('reads the split back from the live file header', async () => {
    const { lbs, transportOf } = setup();
    const s = await readSplit(lbs[0], transportOf(lbs[0]), { filesFor });
    assert.equal(s.split, 5);
    assert.equal(s.mode, 'weighted');
    hosts.get('a')!.files.set('/etc/nginx/a.conf', 'upstream myapp { server x; }\n');
    const u = await readSplit(lbs[0], transportOf(lbs[0]), { filesFor });
    assert.equal(u.split, undefined);
    assert.match(u.error!, /not a Phar Rollout file/);
    hosts.get('a')!.files.clear();
    assert.match((await readSplit(lbs[0], transportOf(lbs[0]), { filesFor })).error!, /does not exist/);
  });
});
