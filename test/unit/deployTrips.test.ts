import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { deployArtifact } from '../../src/core/backends/deployBackends';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import type { RunResult } from '../../src/core/exec/process';
import type { ExecOptions, Transport, UploadOptions } from '../../src/core/exec/transport';
import { uploadThroughCat } from '../../src/core/exec/transport';
import type { TransportPool } from '../../src/core/exec/transportFor';
import type { Artifact } from '../../src/core/phar/artifact';
import { OperationError } from '../../src/core/errors';
import { fakeResult } from '../helpers/fakeResult';

/**
 * A backend host in memory that answers the deploy's scripts by what they are. Each exec (and each
 * upload) is one transport call: one ssh round trip.
 */
class FakeBackendHost implements Transport {
  readonly host = 'web@backend';
  readonly calls: string[] = [];
  current = 'releases/1.0.0-old';
  previous = '';
  /** The lock's trip is cut after the lock was made (while its prepare ran). */
  cutLockTrip = false;
  /** Paths the prune removed. */
  readonly removed: string[] = [];
  /** Exit code of the restart hook run after the switch. */
  hookCode = 0;

  async exec(args: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const script = args[0] === 'sh' && args[1] === '-c' ? args[2] : args.join(' ');
    const a = args.slice(4);
    const out = (stdout: string, code = 0): RunResult => fakeResult(args, stdout, code);
    const named = /^# phar-rollout:(\w+)/.exec(script)?.[1];
    if (named === 'put') {
      const data = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        (options.input as Readable).on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      });
      this.calls.push('put');
      const sum = createHash('sha256').update(data).digest('hex');
      return out(`${sum}  ${a[0]}\n`, sum === a[2] ? 0 : 12);
    }
    if (named === 'prepare') {
      this.calls.push('prepare');
      return out(this.prepare());
    }
    if (named === 'switch') {
      this.calls.push('switch+restart');
      const n = Number(a[1]);
      const links = a.slice(2, 2 + n);
      for (let i = 0; i < links.length; i += 2) {
        if (links[i] === 'current') this.current = links[i + 1];
        if (links[i] === 'previous') this.previous = links[i + 1];
      }
      assert.deepEqual(a.slice(2 + n), ['true'], 'the restart hook runs in the same trip');
      return out('@switched\n', this.hookCode);
    }
    if (script.includes('mkdir -- "$1" 2>/dev/null')) {
      if (!a[2]) {
        this.calls.push('lock');
        return out('');
      }
      assert.match(a[2], /^# phar-rollout:prepare/);
      this.calls.push('lock+prepare');
      if (this.cutLockTrip) throw new OperationError('ssh web@backend: connection lost', { step: 'ssh' });
      return out(`@locked\n${this.prepare()}`);
    }
    if (script.includes('mv -- "$1" "$2"')) {
      if (!a[3]) {
        this.calls.push('unlock');
        return out('');
      }
      assert.equal(a[3], 'rm -rf -- "$@"');
      this.removed.push(...a.slice(4));
      this.calls.push('prune+unlock');
      return out('@first 0\n');
    }
    if (script.startsWith('cd -- "$1" 2>/dev/null || exit 0\nprintf \'current')) {
      this.calls.push('list');
      return out(`current ${this.current}\nprevious ${this.previous}\nrelease 1.0.0-old\njson {}\n`);
    }
    if (script.startsWith('set -e\ncd -- "$1"; shift')) {
      this.calls.push('set links');
      for (let i = 1; i < a.length; i += 2) {
        if (a[i] === 'current') this.current = a[i + 1];
        if (a[i] === 'previous') this.previous = a[i + 1];
      }
      return out('');
    }
    if (args[0] === 'cat') return out('', 1);
    this.calls.push(`other: ${script.slice(0, 40)}`);
    return out('');
  }

  /** PREPARE's answer: links, no phar yet, then the listing (an old incomplete release to prune). */
  private prepare(): string {
    return `${this.current}\n${this.previous}\n@list\ncurrent ${this.current}\nprevious ${this.previous}\nrelease 1.0.0-old\nrelease 0.9.0-junk\n`;
  }

  command(): Promise<RunResult> {
    this.calls.push('command');
    return Promise.resolve({ command: 'sh', args: [], code: 0, signal: null, stdout: '', stderr: '', durationMs: 1 });
  }

  upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<RunResult | void> {
    return uploadThroughCat((args, o) => this.exec(args, o), localPath, remotePath, options);
  }

  async dispose(): Promise<void> {}
}

describe('deploy to an ssh backend: round trips', () => {
  let tmp: string;
  let artifact: Artifact;
  const config = parseRolloutConfig(
    '/p/rollout.json',
    JSON.stringify({
      backends: [
        {
          name: 'web-1',
          group: 'stable',
          upstream: '127.0.0.1:9000',
          dir: '/srv/app',
          ssh: 'web@backend',
          restart: ['true'],
          drain: false,
        },
        { name: 'web-2', group: 'stable', upstream: '127.0.0.1:9001', dir: '/srv/app2' },
      ],
    }),
  );

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-trips-'));
    const pharPath = path.join(tmp, 'app.phar');
    const data = Buffer.from('<?php echo "2.0.0";\n');
    await fs.writeFile(pharPath, data);
    const sha256 = createHash('sha256').update(data).digest('hex');
    artifact = {
      id: `2.0.0-aaaaaaa-${sha256.slice(0, 8)}`,
      app: 'app',
      version: '2.0.0',
      commit: 'a'.repeat(40),
      commitTime: '2024-01-01T00:00:00Z',
      sha256,
      size: data.length,
      builder: 'builtin',
      inputsHash: 'x',
      builtAt: '2024-01-01T00:00:00Z',
      phar: 'app.phar',
      dir: tmp,
      pharPath,
    };
  });
  after(() => fs.rm(tmp, { recursive: true, force: true }));

  const deployTo = (host: FakeBackendHost, a: Artifact = artifact) => {
    const pool = { get: () => host, dispose: async () => undefined } as unknown as TransportPool;
    return deployArtifact({ config, artifact: a, backends: [config.backends[0]], transports: pool });
  };

  it('costs 4 calls: lock+prepare, upload+verify+record, switch+restart, prune+unlock', async () => {
    const host = new FakeBackendHost();
    const { results } = await deployTo(host);
    assert.ok(results[0].ok, results[0].error);
    assert.deepEqual(host.calls, ['lock+prepare', 'put', 'switch+restart', 'prune+unlock']);
    assert.deepEqual(host.removed, ['/srv/app/releases/0.9.0-junk'], 'the old current (now previous) is kept for rollback');
    assert.equal(host.current, `releases/${artifact.id}`);
    assert.equal(host.previous, 'releases/1.0.0-old');
  });

  it('a failing restart hook in the switch trip switches current back and names the step', async () => {
    const host = new FakeBackendHost();
    host.hookCode = 3;
    const { results } = await deployTo(host);
    assert.equal(results[0].step, 'restart');
    assert.match(results[0].error!, /restart hook exited with 3 on web@backend.*current switched back to 1\.0\.0-old/);
    assert.equal(host.current, 'releases/1.0.0-old');
    assert.ok(host.calls.includes('command'), 'the hook ran again on the old release');
  });

  it('a lock trip cut while its prepare runs removes the lock it may have made (by our token), and fails at "lock"', async () => {
    const host = new FakeBackendHost();
    host.cutLockTrip = true;
    const { results } = await deployTo(host);
    assert.deepEqual([results[0].ok, results[0].step], [false, 'lock']);
    assert.deepEqual(host.calls, ['lock+prepare', 'unlock']);
    assert.equal(host.current, 'releases/1.0.0-old');
  });

  it('a wrong sha256 stops in the upload trip: current never switched', async () => {
    const host = new FakeBackendHost();
    const { results } = await deployTo(host, { ...artifact, sha256: 'f'.repeat(64) });
    assert.equal(results[0].step, 'verify');
    assert.ok(!host.calls.includes('switch+restart'));
    assert.equal(host.current, 'releases/1.0.0-old');
  });
});
