import * as assert from 'node:assert/strict';
import { checkReleaseId, manifestOf } from '../../src/core/backends/releases';
import type { ReleaseInfo } from '../../src/core/backends/releases';
import { statusOf } from '../../src/core/backends/status';
import type { ProbeResult } from '../../src/core/backends/probe';
import { InputError } from '../../src/core/errors';
import { SshTransport, checkSshArgs } from '../../src/core/exec/sshTransport';
import { TransportPool } from '../../src/core/exec/transportFor';
import { LocalTransport } from '../../src/core/exec/localTransport';

const release = (version: string, commit = 'a'.repeat(40)): ReleaseInfo => ({
  id: `${version}-aaaaaaa-12345678`,
  app: 'app',
  version,
  commit,
  commitTime: '2024-01-01T00:00:00Z',
  sha256: '1'.repeat(64),
  size: 10,
  builder: 'builtin',
  inputsHash: 'x',
  builtAt: '2024-01-01T00:00:00Z',
  phar: 'app.phar',
  deployedAt: '2024-01-02T00:00:00Z',
  deployedBy: 'me@here',
});
const probe = (p: Partial<ProbeResult>): ProbeResult => ({ url: 'http://x/__version', ok: true, latencyMs: 3, ...p });
const b = { name: 'web-1', group: 'stable' as const };

describe('statusOf (drift and health)', () => {
  it('no drift when the probe serves the deployed build', () => {
    const s = statusOf(b, probe({ version: '1.0.0', commit: 'aaaaaaa' }), release('1.0.0'));
    assert.deepEqual([s.served, s.deployed, s.healthy, s.drift, s.probed], ['1.0.0', '1.0.0', true, false, true]);
    assert.equal(s.deployedArtifact, '1.0.0-aaaaaaa-12345678');
    assert.equal(s.latencyMs, 3);
  });

  it('drift when another version is served, or the same version from another commit', () => {
    assert.equal(statusOf(b, probe({ version: '0.9.0' }), release('1.0.0')).drift, true);
    assert.equal(statusOf(b, probe({ version: '1.0.0', commit: 'bbbbbbb' }), release('1.0.0')).drift, true);
  });

  it('an unreachable backend is unhealthy, not drifting, and says why', () => {
    const s = statusOf(b, probe({ ok: false, error: { kind: 'refused', message: 'connection refused' } }), release('1.0.0'));
    assert.equal(s.healthy, false);
    assert.equal(s.drift, false);
    assert.equal(s.served, undefined);
    assert.equal(s.deployed, '1.0.0');
    assert.equal(s.errorKind, 'refused');
    assert.match(s.error!, /refused/);
  });

  it('without a probe URL, served is the deployed version', () => {
    const s = statusOf(b, undefined, release('2.0.0'));
    assert.deepEqual([s.served, s.deployed, s.healthy, s.drift, s.probed], ['2.0.0', '2.0.0', true, false, false]);
    const none = statusOf(b, undefined, undefined, 'ssh: connection refused');
    assert.equal(none.healthy, false);
    assert.match(none.error!, /release\.json: ssh: connection refused/);
  });
});

describe('release ids and manifests', () => {
  it('accepts artifact ids and refuses anything that could leave releases/', () => {
    for (const ok of ['1.0.0-abc1234-deadbeef', '2.0.0+build.1-0000000-00000000', 'v1']) assert.equal(checkReleaseId(ok), ok);
    for (const bad of ['', '..', '../x', 'a/b', '.hidden', '-rf', 'a b', 'a\nb', 'x..y', "it's"])
      assert.throws(() => checkReleaseId(bad), /not a valid release id/, bad);
  });

  it('manifestOf drops local paths and keeps every manifest field (also newer ones)', () => {
    const { deployedAt: _a, deployedBy: _b, ...manifest } = release('1.0.0');
    const m = manifestOf({ ...manifest, dirty: true, dir: '/local', pharPath: '/local/app.phar' });
    assert.equal('pharPath' in m, false);
    assert.equal('dir' in m, false);
    assert.deepEqual(m, { ...manifest, dirty: true });
  });
});

describe('ssh options', () => {
  it('refuses extra args that switch host key checking off, in every spelling', () => {
    for (const args of [
      ['-o', 'StrictHostKeyChecking=no'],
      ['-oStrictHostKeyChecking=no'],
      ['-o', 'stricthostkeychecking no'],
      ['-o', 'UserKnownHostsFile=/dev/null'],
    ]) {
      assert.throws(() => checkSshArgs(args), InputError, args.join(' '));
    }
    checkSshArgs(['-F', '/x/config', '-o', 'StrictHostKeyChecking=yes', '-p', '2222']);
  });

  it('refuses destinations that ssh would read as options', () => {
    assert.throws(() => new SshTransport('-oProxyCommand=x'), InputError);
    assert.throws(() => new SshTransport('a b'), InputError);
    assert.equal(new SshTransport('deploy@web-1').host, 'deploy@web-1');
  });

  it('the pool shares one transport per destination and uses the local one without ssh', async () => {
    const pool = new TransportPool();
    assert.ok(pool.get({}) instanceof LocalTransport);
    assert.equal(pool.get({ ssh: 'a@h' }), pool.get({ ssh: 'a@h' }));
    assert.notEqual(pool.get({ ssh: 'a@h' }), pool.get({ ssh: 'b@h' }));
    await pool.dispose(); // nothing connected: no process is started
  });
});
