import * as assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../../src/core/phar/artifact';
import { deployArtifact, rollbackToPrevious } from '../../src/core/backends/deployBackends';
import { resetFpmPool } from '../../src/core/backends/fpmReset';
import { probeVersion } from '../../src/core/backends/probe';
import { backendStatus } from '../../src/core/backends/status';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import type { RolloutConfig } from '../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { freePort } from '../../src/core/net/freePort';
import { initialUpstreamConf, nginxMainConf, startNginx, stopNginx } from '../../src/core/sandbox/nginxSandbox';
import { assertAllOkUnderLoad, describeLoad, startMixedLoad } from '../helpers/loadClient';
import { promote } from '../../src/core/rollout/promote';
import { artifactsDir } from '../../src/core/phar/artifactStore';
import { stopAll } from '../helpers/teardown';
import { buildTestPhar, preparePhpBackend } from '../helpers/phpBackend';
import type { PhpBackend } from '../helpers/phpBackend';
import { waitFor } from '../helpers/wait';

const fpmInstalled = ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm', '/usr/bin/php-fpm'].some((f) => existsSync(f));

describe('php-fpm backends: served release = deployed release (real nginx + php-fpm)', function () {
  this.timeout(120000);
  let tmp: string;
  let v1: Artifact;
  let v2: Artifact;
  let v3: Artifact;
  const backends: PhpBackend[] = [];
  const names = ['stable-1', 'stable-2', 'canary-1'];
  let probePorts: number[] = [];
  let prefix: string;
  let lbUrl: string;
  let cfg: RolloutConfig;

  before(async function () {
    if (!fpmInstalled) {
      if (process.env.CI === 'true') throw new Error('php-fpm is not installed (scripts/installSystemDeps.sh installs php8.2-fpm)');
      this.skip();
    }
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-fpm-'));
    // In the project's artifact store: promote reads the canary's artifact from there.
    const artifacts = artifactsDir(tmp);
    // One version, three builds: only commit and sha256 tell them apart.
    [v1, v2, v3] = await Promise.all(['1', '2', '3'].map((c) => buildTestPhar({ dir: artifacts, version: '1.3.0', commit: c.repeat(40) })));
    for (const name of names) {
      const b = await preparePhpBackend({ dir: path.join(tmp, name), mode: 'fpm' });
      await b.start();
      backends.push(b);
    }
    probePorts = await Promise.all(names.map(() => freePort()));
    prefix = path.join(tmp, 'nginx');
    for (const d of ['conf', 'logs', 'temp']) await fs.mkdir(path.join(prefix, d), { recursive: true });
    const lbPort = await freePort();
    const upstreamFile = path.join(prefix, 'conf', 'upstream.conf');
    await fs.writeFile(upstreamFile, initialUpstreamConf('app', [{ address: backends[0].upstream }, { address: backends[1].upstream }]));
    await fs.writeFile(
      path.join(prefix, 'conf', 'nginx.conf'),
      nginxMainConf({
        port: lbPort,
        upstream: 'app',
        upstreamFile,
        fastcgi: {
          script: 'current/app.phar',
          direct: names.map((name, i) => ({ name, port: probePorts[i], upstream: backends[i].upstream })),
        },
      }),
    );
    await startNginx(prefix);
    lbUrl = `http://127.0.0.1:${lbPort}`;
    cfg = parseRolloutConfig(
      path.join(tmp, 'rollout.json'),
      JSON.stringify({
        backends: names.map((name, i) => ({
          name,
          group: name.startsWith('stable') ? 'stable' : 'canary',
          upstream: backends[i].upstream,
          dir: backends[i].dir,
          probe: `http://127.0.0.1:${probePorts[i]}/__version`,
          runtime: 'fpm',
        })),
        probe: { timeoutMs: 1000, deployDeadlineMs: 10000 },
      }),
    );
    const { results } = await deployArtifact({ config: cfg, artifact: v1, backends: cfg.backends });
    assert.deepEqual(
      results.map((r) => [r.backend, r.ok, r.error]),
      names.map((n) => [n, true, undefined]),
    );
  });

  after(() =>
    stopAll([
      () => (prefix ? stopNginx(prefix) : undefined),
      ...backends.map((b) => () => b.stop()),
      () => (tmp ? fs.rm(tmp, { recursive: true, force: true }) : undefined),
    ]),
  );

  /** What each of `n` fresh requests straight to backend `i`'s pool answers (n > workers: every worker is asked). */
  async function servedBy(i: number, n = 12): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let k = 0; k < n; k++) {
      const p = await probeVersion(`http://127.0.0.1:${probePorts[i]}/__version`, { timeoutMs: 2000 });
      assert.ok(p.ok, p.error?.message);
      seen.add(`${p.commit} ${p.sha256}`);
    }
    return seen;
  }
  const id = (a: Artifact) => `${a.commit} ${a.sha256}`;

  it('a rolling deploy of the stable group under mixed GET/POST load with 300 ms requests in flight: 0 failed, every worker serves the new build', async () => {
    const load = startMixedLoad(lbUrl);
    await waitFor('load running', () => load.count() > 20, 10000);
    const t0 = Date.now();
    const { results } = await deployArtifact({ config: cfg, artifact: v2, backends: cfg.backends.filter((b) => b.group === 'stable') });
    const deployMs = Date.now() - t0;
    const r = await load.stop();
    console.log(`      rolling deploy (${deployMs} ms): ${describeLoad(r)}`);
    assertAllOkUnderLoad(results, ['stable-1', 'stable-2'], r);
    assert.ok(r.maxInFlight >= 4, 'slow requests were in flight');
    for (const i of [0, 1]) assert.deepEqual([...(await servedBy(i))], [id(v2)], `${names[i]}: every worker serves v2`);
    assert.deepEqual([...(await servedBy(2))], [id(v1)], 'canary untouched');
    const status = await backendStatus(cfg);
    assert.deepEqual(
      status.map((s) => [s.name, s.healthy, s.drift, s.servedSha256]),
      [
        ['stable-1', true, false, v2.sha256],
        ['stable-2', true, false, v2.sha256],
        ['canary-1', true, false, v1.sha256],
      ],
    );
  });

  it('without the OPcache/realpath reset the pool keeps serving the old build, and status shows drift by identity (same version)', async () => {
    const noRecipe = { ...cfg, backends: cfg.backends.map((b) => ({ ...b, runtime: 'custom' as const, probe: undefined })) };
    const canary = noRecipe.backends.filter((b) => b.name === 'canary-1');
    const { results } = await deployArtifact({ config: noRecipe, artifact: v3, backends: canary });
    assert.equal(results[0].ok, true, results[0].error);
    // current points at v3 now; the pool's workers still run v1 (realpath cache: 120 s), asked again and again.
    assert.deepEqual([...(await servedBy(2))], [id(v1)]);
    const [status] = await backendStatus(cfg, { backends: cfg.backends.filter((b) => b.name === 'canary-1') });
    assert.equal(status.deployed, '1.3.0');
    assert.equal(status.served, '1.3.0');
    assert.equal(status.drift, true, 'same version, other sha256: drift');
    // The recipe fixes it without a reload: every worker answers v3 right after.
    const pid = await backends[2].pid();
    const reset = await resetFpmPool(new LocalTransport(), backends[2].dir, backends[2].upstream, { deadlineMs: 5000, timeoutMs: 1000 });
    assert.equal(reset.workers.length, 4);
    assert.ok(reset.workers.every((w) => reset.cleared.includes(w)));
    assert.deepEqual([...(await servedBy(2))], [id(v3)]);
    assert.equal(await backends[2].pid(), pid, 'fpm was not restarted');
  });

  it('a probe that compares only the version would be fooled: the deploy waits for commit and sha256', async () => {
    // Switch the canary back to v1 without the recipe (probe on): the deploy fails at the probe, naming the build it still sees.
    const noReset = { ...cfg, probe: { ...cfg.probe, deployDeadlineMs: 1500 } };
    const canary = noReset.backends.filter((b) => b.name === 'canary-1').map((b) => ({ ...b, runtime: 'custom' as const }));
    const { results } = await deployArtifact({ config: noReset, artifact: v1, backends: canary });
    assert.equal(results[0].ok, false);
    assert.equal(results[0].step, 'probe');
    assert.match(results[0].error ?? '', /did not serve 1\.3\.0 \(1111111, sha256 [0-9a-f]{8}\).*still serves 1\.3\.0 \(3333333/);
  });

  it('release rollback of the stable group under the same load: 0 failed, every worker serves the previous build', async () => {
    const load = startMixedLoad(lbUrl);
    await waitFor('load running', () => load.count() > 20, 10000);
    const t0 = Date.now();
    const { results } = await rollbackToPrevious({ config: cfg, backends: cfg.backends.filter((b) => b.group === 'stable') });
    const rollbackMs = Date.now() - t0;
    const r = await load.stop();
    console.log(`      release rollback (${rollbackMs} ms): ${describeLoad(r)}`);
    assertAllOkUnderLoad(results, ['stable-1', 'stable-2'], r);
    for (const i of [0, 1]) assert.deepEqual([...(await servedBy(i))], [id(v1)]);
  });

  it('promote under the same load: the canary build (v3) goes to the stable group, 0 failed, every worker serves it', async () => {
    const load = startMixedLoad(lbUrl);
    await waitFor('load running', () => load.count() > 20, 10000);
    const t0 = Date.now();
    const promoted = await promote(cfg, { user: 'tester@example.invalid' });
    const promoteMs = Date.now() - t0;
    const r = await load.stop();
    console.log(`      promote (${promoteMs} ms): ${describeLoad(r)}`);
    assert.equal(promoted.ok, true, JSON.stringify(promoted.results));
    assert.equal(promoted.artifact.id, v3.id);
    assertAllOkUnderLoad(promoted.results, ['stable-1', 'stable-2'], r);
    assert.ok((r.builds[`1.3.0 ${v3.sha256.slice(0, 8)}`] ?? 0) > 0, 'the promoted build answered through the LB');
    for (const i of [0, 1, 2]) assert.deepEqual([...(await servedBy(i))], [id(v3)], `${names[i]} serves v3`);
  });
});
