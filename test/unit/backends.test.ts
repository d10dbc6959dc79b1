import * as assert from 'node:assert/strict';
import { checkReleaseId, manifestOf, parseReleaseJson, releaseShapeError } from '../../src/core/backends/releases';
import { encodeParams, parseCgiAnswer } from '../../src/core/backends/fastcgi';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import { InputErrors } from '../../src/core/errors';
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

  it('drift on identity: same version and commit, another phar sha256', () => {
    const s = statusOf(b, probe({ version: '1.0.0', commit: 'aaaaaaa', sha256: '2'.repeat(64) }), release('1.0.0'));
    assert.equal(s.drift, true);
    assert.equal(s.servedSha256, '2'.repeat(64));
    assert.equal(statusOf(b, probe({ version: '1.0.0', commit: 'aaaaaaa', sha256: '1'.repeat(64) }), release('1.0.0')).drift, false);
  });

  it('a release.json or probe answer of the wrong shape marks the backend "unreadable: <why>"', () => {
    const s = statusOf(
      b,
      probe({ version: '1.0.0' }),
      undefined,
      '/srv/app/current/release.json on local is unreadable: "version" is an object, expected a string',
    );
    assert.equal(s.unreadable, 'unreadable: current/release.json "version" is an object, expected a string');
    assert.match(s.error!, /^unreadable: /);
    assert.equal(s.healthy, true, 'the probe still answers');
    assert.equal(s.deployed, undefined);
    const p = statusOf(
      b,
      probe({ ok: false, error: { kind: 'bad-answer', message: 'unreadable: "commit" is an object, expected a string' } }),
      release('1.0.0'),
    );
    assert.equal(p.unreadable, 'unreadable: probe answer "commit" is an object, expected a string');
    assert.equal(p.healthy, false);
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

describe('release.json shape', () => {
  const good = JSON.stringify(release('1.0.0'));
  it('accepts what a deploy writes', () => {
    assert.equal(parseReleaseJson(good, 'f').version, '1.0.0');
  });

  it('refuses objects where strings belong, missing fields, bad hashes, non-objects: "unreadable: <why>"', () => {
    const bad = (patch: Record<string, unknown>) => JSON.stringify({ ...release('1.0.0'), ...patch });
    const cases: Array<[string, string]> = [
      [bad({ version: { toString: 1 } }), '"version" is an object, expected a string'],
      [JSON.stringify({ evil: 1 }), '"id" is missing'],
      [bad({ commit: ['a'] }), '"commit" is an array, expected a string'],
      [bad({ sha256: 'zz' }), '"sha256" is not 64 hex digits'],
      [bad({ deployedBy: { name: 'x' } }), '"deployedBy" is an object, expected a string'],
      [bad({ size: '10' }), '"size" is a string, expected a number'],
      ['[1,2]', 'it is an array, expected an object'],
      ['null', 'it is null, expected an object'],
    ];
    for (const [text, why] of cases) {
      assert.equal(releaseShapeError(JSON.parse(text)), why, text);
      assert.throws(() => parseReleaseJson(text, '/srv/app/current/release.json on web-1'), {
        message: `/srv/app/current/release.json on web-1 is unreadable: ${why}`,
      });
    }
    assert.throws(() => parseReleaseJson('{', 'f'), { message: 'f is unreadable: not valid JSON' });
  });
});

describe('FastCGI records', () => {
  it('encodes name-value pairs with 1- and 4-byte lengths and ends with an empty PARAMS record', () => {
    const [rec, end] = encodeParams({ A: 'b', LONG: 'x'.repeat(200) });
    assert.deepEqual([...rec.subarray(0, 4)], [1, 4, 0, 1], 'version 1, FCGI_PARAMS, request id 1');
    const len = rec.readUInt16BE(4);
    assert.equal(rec.length % 8, 0, 'padded to 8 bytes');
    const body = rec.subarray(8, 8 + len);
    assert.deepEqual([...body.subarray(0, 4)], [1, 1, 0x41, 0x62]);
    assert.equal(body.readUInt8(4), 4);
    assert.equal(body.readUInt32BE(5), 0x80000000 + 200);
    assert.deepEqual([...end], [1, 4, 0, 1, 0, 0, 0, 0]);
  });

  it('splits a CGI answer into status, headers and body', () => {
    assert.deepEqual(parseCgiAnswer('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope'), {
      status: 404,
      headers: { status: '404 Not Found', 'content-type': 'text/plain' },
      body: 'nope',
    });
    assert.equal(parseCgiAnswer('Content-Type: application/json\r\n\r\n{}').status, 200);
  });
});

describe('backends[].runtime, drain, drainSeconds in rollout.json', () => {
  const parse = (backend: Record<string, unknown>) =>
    parseRolloutConfig(
      '/p/rollout.json',
      JSON.stringify({ backends: [{ name: 'web-1', group: 'stable', upstream: '127.0.0.1:9000', dir: '/srv/app', ...backend }] }, null, 2),
    );

  it('reads them; absent means the old behaviour (run the restart hook)', () => {
    const b = parse({ runtime: 'fpm', drain: false, drainSeconds: 5 }).backends[0];
    assert.deepEqual([b.runtime, b.drain, b.drainSeconds], ['fpm', false, 5]);
    assert.equal(parse({}).backends[0].runtime, undefined);
  });

  it('refuses an unknown runtime and a php-server without restart hook, located', () => {
    const errorsOf = (backend: Record<string, unknown>) => {
      try {
        parse(backend);
      } catch (err) {
        assert.ok(err instanceof InputErrors);
        return err.errors.map((e) => `${e.location?.line}:${e.location?.column} ${e.message}`);
      }
      return [];
    };
    assert.match(errorsOf({ runtime: 'fcgi' }).join('\n'), /^8:\d+ .*runtime/m);
    assert.deepEqual(errorsOf({ runtime: 'php-server' }), [
      '8:18 backend "web-1": "runtime" "php-server" needs a "restart" hook: php -S never notices that current moved',
    ]);
    assert.deepEqual(errorsOf({ runtime: 'php-server', restart: ['true'] }), []);
    assert.match(errorsOf({ drainSeconds: -1 }).join('\n'), /drainSeconds/);
  });
});
