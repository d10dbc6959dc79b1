import * as assert from 'node:assert/strict';
import { existsSync, promises as fs, readlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../../src/core/phar/artifact';
import { deployArtifact } from '../../src/core/backends/deployBackends';
import { probeVersion } from '../../src/core/backends/probe';
import { backendStatus } from '../../src/core/backends/status';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import type { RolloutConfig } from '../../src/core/config/rolloutConfig';
import { TransportPool } from '../../src/core/exec/transportFor';
import { buildTestPhar, dummyArtifact, preparePhpBackend } from '../helpers/phpBackend';
import type { PhpBackend } from '../helpers/phpBackend';
import { startSshd, sshdAvailable } from '../helpers/sshd';
import type { SshServer } from '../helpers/sshd';
import { skipUnlessCi } from '../helpers/skip';

function currentTarget(dir: string): string | undefined {
  try {
    return readlinkSync(path.join(dir, 'current'));
  } catch {
    return undefined;
  }
}

async function connectionsAccepted(sshd: SshServer): Promise<number> {
  return ((await fs.readFile(sshd.log, 'utf8')).match(/Accepted publickey/g) ?? []).length;
}

// The "remote" hosts are this machine reached through a real sshd: same files, real ssh path.
describe('deploy through ssh (real OpenSSH server, php backends)', function () {
  let sshd: SshServer | undefined;
  let pool: TransportPool | undefined;
  let tmp: string;
  let v1: Artifact;
  let v2: Artifact;
  let big: Artifact;
  const backends: PhpBackend[] = [];
  let cfg: RolloutConfig;

  before(async function () {
    if (!sshdAvailable()) {
      skipUnlessCi(this, '/usr/sbin/sshd or ssh-keygen is not installed');
    }
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-sshdeploy-'));
    const artifacts = path.join(tmp, 'artifacts');
    [v1, v2, big] = await Promise.all([
      buildTestPhar({ dir: artifacts, version: '1.0.0' }),
      buildTestPhar({ dir: artifacts, version: '2.0.0' }),
      dummyArtifact({ dir: artifacts, version: '9.9.9', bytes: 96 * 1024 * 1024 }),
    ]);
    sshd = await startSshd();
    pool = new TransportPool({ sshArgs: sshd.sshArgs });
    for (const name of ['web-1', 'web-2']) backends.push(await preparePhpBackend({ dir: path.join(tmp, name) }));
    cfg = parseRolloutConfig(
      path.join(tmp, 'rollout.json'),
      JSON.stringify({
        backends: backends.map((b, i) => ({
          name: `web-${i + 1}`,
          group: i === 0 ? 'stable' : 'canary',
          upstream: b.upstream,
          ssh: sshd!.destination,
          dir: b.dir,
          probe: b.probe,
          restart: b.restart,
        })),
        probe: { timeoutMs: 1000, deployDeadlineMs: 15000 },
      }),
    );
  });

  after(async () => {
    const errors: unknown[] = [];
    await pool?.dispose().catch((e) => errors.push(e));
    for (const b of backends) await b.stop().catch((e) => errors.push(e));
    await sshd?.stop().catch((e) => errors.push(e));
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  });

  it('deploys to two backends on one host over one ssh connection', async () => {
    const before = await connectionsAccepted(sshd!);
    const { results } = await deployArtifact({ config: cfg, artifact: v1, backends: cfg.backends, transports: pool });
    assert.ok(
      results.every((r) => r.ok),
      JSON.stringify(results),
    );
    for (const b of backends) {
      assert.equal(currentTarget(b.dir), `releases/${v1.id}`);
      assert.equal((await probeVersion(b.probe)).version, '1.0.0');
    }
    assert.equal((await connectionsAccepted(sshd!)) - before, 1, 'one handshake for the whole deploy');
  });

  it('status reads release.json over ssh', async () => {
    const status = await backendStatus(cfg, { transports: pool });
    assert.deepEqual(
      status.map((s) => [s.name, s.served, s.deployed, s.deployedArtifact, s.healthy, s.drift]),
      [
        ['web-1', '1.0.0', '1.0.0', v1.id, true, false],
        ['web-2', '1.0.0', '1.0.0', v1.id, true, false],
      ],
    );
  });

  it('a cut connection mid-upload leaves current unchanged, cleans up and unlocks', async () => {
    const b = backends[0];
    let cut = false;
    const { results } = await deployArtifact({
      config: cfg,
      artifact: big,
      backends: [cfg.backends[0]],
      transports: pool,
      onProgress: ({ step, bytes: detail }) => {
        if (step === 'upload' && detail && detail.done > 8 * 1024 * 1024 && !cut) {
          cut = true;
          void sshd!.cutConnections();
        }
      },
    });
    assert.ok(cut, 'the connection was cut during the upload');
    assert.equal(results[0].ok, false);
    assert.equal(results[0].step, 'upload');
    assert.match(results[0].error!, /upload failed on web-1: /);
    assert.equal(currentTarget(b.dir), `releases/${v1.id}`);
    assert.equal((await probeVersion(b.probe)).version, '1.0.0');
    // The cleanup ran over a new connection: no half-made release, no lock left behind.
    assert.ok(!existsSync(path.join(b.dir, 'releases', big.id)), 'partial release removed');
    assert.ok(!existsSync(path.join(b.dir, '.rollout.lock')), 'lock released');
  });

  it('cancelling mid-upload stops the remote cat, leaves current unchanged and unlocks', async () => {
    const b = backends[1];
    const abort = new AbortController();
    const t0 = Date.now();
    const { results } = await deployArtifact({
      config: cfg,
      artifact: big,
      backends: [cfg.backends[1]],
      transports: pool,
      signal: abort.signal,
      onProgress: ({ step, bytes: detail }) => {
        if (step === 'upload' && detail && detail.done > 8 * 1024 * 1024) abort.abort();
      },
    });
    assert.deepEqual([results[0].ok, results[0].cancelled, results[0].step], [false, true, 'upload']);
    assert.ok(Date.now() - t0 < 10000);
    assert.equal(currentTarget(b.dir), `releases/${v1.id}`);
    assert.ok(!existsSync(path.join(b.dir, 'releases', big.id)));
    assert.ok(!existsSync(path.join(b.dir, '.rollout.lock')));
  });

  it('a release with a wrong sha256 is never switched to (over ssh)', async () => {
    const forged: Artifact = { ...v2, id: '2.0.1-forged00-00000000', version: '2.0.1', sha256: '0'.repeat(64) };
    const { results } = await deployArtifact({ config: cfg, artifact: forged, backends: [cfg.backends[1]], transports: pool });
    assert.equal(results[0].step, 'verify');
    assert.equal(currentTarget(backends[1].dir), `releases/${v1.id}`);
  });

  it('then deploys the canary normally: it serves 2.0.0 while stable serves 1.0.0', async () => {
    const { results } = await deployArtifact({ config: cfg, artifact: v2, backends: [cfg.backends[1]], transports: pool });
    assert.ok(results[0].ok, results[0].error);
    const status = await backendStatus(cfg, { transports: pool });
    assert.deepEqual(
      status.map((s) => [s.name, s.served, s.deployed]),
      [
        ['web-1', '1.0.0', '1.0.0'],
        ['web-2', '2.0.0', '2.0.0'],
      ],
    );
  });

  it('an unreachable host fails with step "lock" and a clear ssh message, quickly', async () => {
    const c: RolloutConfig = { ...cfg, backends: [{ ...cfg.backends[0], ssh: 'nobody@127.0.0.1' }] };
    // Same client config but a port where nothing listens.
    const cfgFile = path.join(tmp, 'dead_config');
    const text = await fs.readFile(sshd!.sshArgs[1], 'utf8');
    await fs.writeFile(cfgFile, text.replace(/Port \d+/, 'Port 9'));
    const deadPool = new TransportPool({ sshArgs: ['-F', cfgFile] });
    try {
      const { results } = await deployArtifact({ config: c, artifact: v2, backends: c.backends, transports: deadPool });
      assert.equal(results[0].step, 'lock');
      assert.match(results[0].error!, /lock failed on web-1: ssh nobody@127\.0\.0\.1: .*(refused|closed)/i);
    } finally {
      await deadPool.dispose();
    }
  });
});
