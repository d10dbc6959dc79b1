import * as assert from 'node:assert/strict';
import { existsSync, promises as fs, readlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../../src/core/phar/artifact';
import { deployArtifact, rollbackToPrevious } from '../../src/core/backends/deployBackends';
import type { DeployStep } from '../../src/core/backends/deployBackends';
import { probeVersion } from '../../src/core/backends/probe';
import { acquireLock, listReleases, readCurrentRelease } from '../../src/core/backends/releases';
import { backendStatus } from '../../src/core/backends/status';
import { releaseRollbackTargets } from '../../src/core/rollout/rollback';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import type { RolloutConfig } from '../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { startLoad } from '../helpers/loadClient';
import { startNginx } from '../helpers/nginx';
import type { NginxServer } from '../helpers/nginx';
import { buildTestPhar, preparePhpBackend } from '../helpers/phpBackend';
import type { PhpBackend } from '../helpers/phpBackend';
import { stopAll } from '../helpers/teardown';

const local = new LocalTransport();

/** A parsed rollout.json (defaults applied) for these backends. */
function config(dir: string, backends: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): RolloutConfig {
  return parseRolloutConfig(
    path.join(dir, 'rollout.json'),
    JSON.stringify({ backends, probe: { timeoutMs: 1000, deployDeadlineMs: 15000 }, ...extra }),
  );
}

function phpEntry(name: string, group: string, b: PhpBackend) {
  return { name, group, upstream: b.upstream, dir: b.dir, probe: b.probe, restart: b.restart };
}

let portSeed = 0;
/** A backend with no server: releases only (no probe, no restart). */
async function bareEntry(dir: string, name: string, group = 'stable') {
  return { name, group, upstream: `127.0.0.1:${(portSeed++ % 1000) + 40000}`, dir: path.join(dir, name) };
}

function currentTarget(dir: string): string | undefined {
  try {
    return readlinkSync(path.join(dir, 'current'));
  } catch {
    return undefined;
  }
}

describe('deploy over the local transport (real php backends)', function () {
  let tmp: string;
  let artifacts: string;
  let v1: Artifact;
  let v2: Artifact;
  const backends: PhpBackend[] = [];
  let lb: NginxServer | undefined;
  let cfg: RolloutConfig;

  before(async function () {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-deploy-'));
    artifacts = path.join(tmp, 'artifacts');
    [v1, v2] = await Promise.all([
      buildTestPhar({ dir: artifacts, version: '1.0.0' }),
      buildTestPhar({ dir: artifacts, version: '2.0.0' }),
    ]);
    for (const name of ['stable-1', 'stable-2', 'canary-1']) backends.push(await preparePhpBackend({ dir: path.join(tmp, name) }));
    cfg = config(tmp, [
      phpEntry('stable-1', 'stable', backends[0]),
      phpEntry('stable-2', 'stable', backends[1]),
      phpEntry('canary-1', 'canary', backends[2]),
    ]);
  });

  after(() => stopAll([...backends.map((b) => () => b.stop()), () => lb?.stop(), () => fs.rm(tmp, { recursive: true, force: true })]));

  it('deploys v1 to every backend: release complete, current switched, php restarted and serving v1', async () => {
    const steps: Array<[string, DeployStep]> = [];
    const { results } = await deployArtifact({
      config: cfg,
      artifact: v1,
      backends: cfg.backends,
      onProgress: ({ backend: b, step: s }) => b && s && steps.push([b, s]),
    });
    assert.deepEqual(
      results.map((r) => [r.backend, r.ok, r.error]),
      [
        ['stable-1', true, undefined],
        ['stable-2', true, undefined],
        ['canary-1', true, undefined],
      ],
    );
    for (const b of backends) {
      assert.equal(currentTarget(b.dir), `releases/${v1.id}`);
      assert.ok(existsSync(path.join(b.dir, 'releases', v1.id, 'app.phar')));
      assert.ok(!existsSync(path.join(b.dir, 'releases', v1.id, 'app.phar.part')));
      assert.ok(!existsSync(path.join(b.dir, '.rollout.lock')), 'lock released');
      const rel = await readCurrentRelease(local, b.dir);
      assert.equal(rel?.version, '1.0.0');
      assert.equal(rel?.sha256, v1.sha256);
      assert.ok(rel?.deployedAt && rel.deployedBy);
      const p = await probeVersion(b.probe);
      assert.equal(p.version, '1.0.0');
    }
    const order = steps.filter(([b]) => b === 'stable-1').map(([, s]) => s);
    assert.deepEqual(order.filter((s) => s !== 'upload').slice(0, 2), ['queued', 'lock']);
    assert.deepEqual(order.slice(-5), ['switch', 'restart', 'probe', 'prune', 'done']);
  });

  it('never restarts a whole group at once (rolling within stable)', async () => {
    // Deploying v1 again skips the upload but still switches, restarts and probes.
    const active = new Map<string, number>();
    let maxStable = 0;
    const started = new Set<string>();
    await deployArtifact({
      config: { ...cfg, deploy: { concurrency: 10 } },
      artifact: v1,
      backends: cfg.backends,
      onProgress: ({ backend: b = '', step: s }) => {
        const group = b.startsWith('stable') ? 'stable' : 'canary';
        if (s === 'lock' && !started.has(b)) {
          started.add(b);
          active.set(group, (active.get(group) ?? 0) + 1);
        }
        if (s === 'done') active.set(group, (active.get(group) ?? 1) - 1);
        maxStable = Math.max(maxStable, active.get('stable') ?? 0);
      },
    });
    assert.equal(maxStable, 1, 'at most one of the two stable backends at a time');
  });

  it('status: served, deployed, healthy and drift per backend', async () => {
    const status = await backendStatus(cfg);
    assert.deepEqual(
      status.map((s) => [s.name, s.group, s.served, s.deployed, s.healthy, s.drift]),
      [
        ['stable-1', 'stable', '1.0.0', '1.0.0', true, false],
        ['stable-2', 'stable', '1.0.0', '1.0.0', true, false],
        ['canary-1', 'canary', '1.0.0', '1.0.0', true, false],
      ],
    );
    assert.ok(status.every((s) => typeof s.latencyMs === 'number' && s.deployedArtifact === v1.id));
  });

  it('a deploy under a steady request stream through nginx loses no request', async function () {
    lb = await startNginx({ dir: tmp, servers: backends.map((b) => b.upstream) });
    const load = startLoad({ url: `${lb.url}/__version`, concurrency: 4, maxDurationMs: 60000 });
    const { results } = await deployArtifact({ config: cfg, artifact: v2, backends: cfg.backends });
    // Keep the stream running a little after the last switch, until v2 answers through the LB.
    const until = load.count() + 40;
    while (load.count() < until) await new Promise((r) => setTimeout(r, 10));
    const r = await load.stop();
    assert.ok(
      results.every((x) => x.ok),
      JSON.stringify(results),
    );
    assert.deepEqual(r.failures, [], `lost ${r.failures.length} of ${r.total}`);
    assert.ok(r.total >= 100, `only ${r.total} requests were sent`);
    assert.ok((r.versions['1.0.0'] ?? 0) > 0 && (r.versions['2.0.0'] ?? 0) > 0, JSON.stringify(r.versions));
    console.log(`      ${r.total} requests, 0 lost, p95 ${r.p95Ms.toFixed(1)} ms, versions ${JSON.stringify(r.versions)}`);
  });

  it('status: a release.json of the wrong shape marks that backend "unreadable: <why>" and every other backend still shows', async () => {
    const file = path.join(backends[2].dir, 'current', 'release.json');
    const saved = await fs.readFile(file, 'utf8');
    try {
      for (const [hostile, why] of [
        [{ ...JSON.parse(saved), version: { toString: 1 } }, '"version" is an object, expected a string'],
        [{ evil: 1 }, '"id" is missing'],
      ] as const) {
        await fs.writeFile(file, JSON.stringify(hostile));
        const s = await backendStatus(cfg);
        assert.deepEqual(
          s.map((x) => [x.name, x.unreadable]),
          [
            ['stable-1', undefined],
            ['stable-2', undefined],
            ['canary-1', `unreadable: current/release.json ${why}`],
          ],
        );
        assert.equal(s[2].deployed, undefined);
        assert.equal(s[2].healthy, true, 'its probe still answers');
        assert.ok(s[0].deployed && s[1].deployed);
      }
    } finally {
      await fs.writeFile(file, saved);
    }
  });

  it('status shows drift when current moved but the server was not restarted', async () => {
    const b = backends[2];
    // Switch the link by hand, without the restart hook: deployed v1, still serving v2.
    await fs.symlink(`releases/${v1.id}`, path.join(b.dir, '.current.tmp'));
    await fs.rename(path.join(b.dir, '.current.tmp'), path.join(b.dir, 'current'));
    const [s] = await backendStatus(cfg, { backends: [cfg.backends[2]] });
    assert.deepEqual([s.served, s.deployed, s.drift], ['2.0.0', '1.0.0', true]);
    // Put it back (a deploy of v2 again: no upload, just switch + restart + probe).
    const { results } = await deployArtifact({ config: cfg, artifact: v2, backends: [cfg.backends[2]] });
    assert.equal(results[0].ok, true, results[0].error);
  });

  it('a release whose sha256 does not match is never switched to', async () => {
    const forged: Artifact = { ...v2, id: '3.0.0-forged0-00000000', version: '3.0.0', sha256: 'f'.repeat(64) };
    const b = backends[0];
    const before = currentTarget(b.dir);
    const { results } = await deployArtifact({ config: cfg, artifact: forged, backends: [cfg.backends[0]] });
    assert.equal(results[0].ok, false);
    assert.equal(results[0].step, 'verify');
    assert.match(results[0].error!, /verify failed on stable-1: sha256 of the uploaded app\.phar is [0-9a-f]{64}, expected f{64}/);
    assert.equal(currentTarget(b.dir), before);
    assert.ok(!existsSync(path.join(b.dir, 'releases', forged.id)), 'the unverified release is removed');
    assert.ok(!existsSync(path.join(b.dir, '.rollout.lock')));
    assert.equal((await probeVersion(b.probe)).version, '2.0.0');
  });

  it('a failing restart hook puts current back and names the step and backend', async () => {
    const dir = path.join(tmp, 'hook');
    const entry = {
      ...(await bareEntry(tmp, 'hook')),
      restart: ['sh', '-c', 'test ! -e "$0/current/release.json" || grep -q \'"1.0.0"\' "$0/current/release.json"', dir],
    };
    const c = config(tmp, [entry]);
    assert.ok((await deployArtifact({ config: c, artifact: v1, backends: c.backends })).results[0].ok);
    const { results } = await deployArtifact({ config: c, artifact: v2, backends: c.backends });
    assert.equal(results[0].ok, false);
    assert.equal(results[0].step, 'restart');
    assert.match(results[0].error!, /^restart failed on hook: .*current switched back to 1\.0\.0/);
    assert.equal(currentTarget(dir), `releases/${v1.id}`);
  });

  it('a probe that never sees the new version puts current back (deadline)', async () => {
    // The probe asks stable-1 (serving 2.0.0, untouched) while the deploy goes to stable-2.
    const b = backends[1];
    const c = config(tmp, [{ ...phpEntry('stable-2', 'stable', b), probe: backends[0].probe }], {
      probe: { timeoutMs: 300, deployDeadlineMs: 800 },
    });
    const before = currentTarget(b.dir);
    const t0 = Date.now();
    const { results } = await deployArtifact({ config: c, artifact: v1, backends: c.backends });
    assert.equal(results[0].step, 'probe');
    assert.match(results[0].error!, /did not serve 1\.0\.0 .*within 800 ms; it still serves 2\.0\.0/);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(currentTarget(b.dir), before);
    assert.equal((await probeVersion(b.probe)).version, '2.0.0', 'the restart hook ran again on the old release');
  });

  it('cancelling during the probe puts current back and reports cancelled', async () => {
    const b = backends[1];
    const c = config(tmp, [{ ...phpEntry('stable-2', 'stable', b), probe: backends[0].probe }], {
      probe: { timeoutMs: 300, deployDeadlineMs: 20000 },
    });
    const before = currentTarget(b.dir);
    const abort = new AbortController();
    const { results } = await deployArtifact({
      config: c,
      artifact: v1,
      backends: c.backends,
      signal: abort.signal,
      onProgress: ({ step: s }) => s === 'probe' && setTimeout(() => abort.abort(), 100),
    });
    assert.deepEqual([results[0].ok, results[0].cancelled, results[0].step], [false, true, 'probe']);
    assert.equal(currentTarget(b.dir), before);
    assert.ok(!existsSync(path.join(b.dir, '.rollout.lock')));
  });

  it('refuses a backend locked by a live deploy and breaks a stale lock', async () => {
    const entry = await bareEntry(tmp, 'locked');
    const c = config(tmp, [entry]);
    const lock = await acquireLock(local, entry.dir, { operation: 'test holds it' });
    const busy = await deployArtifact({ config: c, artifact: v1, backends: c.backends });
    assert.equal(busy.results[0].step, 'lock');
    assert.match(busy.results[0].error!, /locked by .*\(test holds it\)/);
    assert.equal(currentTarget(entry.dir), undefined);
    assert.equal(await lock.release(), true);
    // A lock whose owner process is gone (same host) is stale.
    await fs.mkdir(path.join(entry.dir, '.rollout.lock'));
    await fs.writeFile(
      path.join(entry.dir, '.rollout.lock', 'owner.json'),
      JSON.stringify({ token: 't', user: 'ghost', host: os.hostname(), pid: 2 ** 22 + 1234, since: 'x', operation: 'deploy' }),
    );
    const ok = await deployArtifact({ config: c, artifact: v1, backends: c.backends });
    assert.equal(ok.results[0].ok, true, ok.results[0].error);
  });

  it('pruning keeps the newest keepReleases, and always current and previous', async () => {
    const entry = await bareEntry(tmp, 'prune');
    const c = config(tmp, [entry], { keepReleases: 2 });
    const made: Artifact[] = [];
    for (const v of ['1', '2', '3', '4', '5']) {
      const a = await buildTestPhar({ dir: artifacts, version: `${v}.0.0` });
      made.push(a);
      assert.ok((await deployArtifact({ config: c, artifact: a, backends: c.backends })).results[0].ok);
    }
    let list = await listReleases(local, entry.dir);
    assert.deepEqual(
      list.releases.map((r) => r.id),
      [made[4].id, made[3].id],
    );
    assert.deepEqual(list.links, { current: made[4].id, previous: made[3].id });
    // Roll back (current 4, previous 5), then deploy 6: previous becomes 4, which is the third newest.
    assert.ok((await rollbackToPrevious({ config: c, backends: c.backends })).results[0].ok);
    const six = await buildTestPhar({ dir: artifacts, version: '6.0.0' });
    assert.ok((await deployArtifact({ config: c, artifact: six, backends: c.backends })).results[0].ok);
    list = await listReleases(local, entry.dir);
    assert.deepEqual(list.links, { current: six.id, previous: made[3].id });
    assert.deepEqual(new Set(list.releases.map((r) => r.id)), new Set([six.id, made[4].id, made[3].id]));
    assert.ok(
      list.releases.every((r) => r.release),
      'only complete releases remain',
    );
  });

  it('rollback by release switches to the previous build and serves it', async () => {
    const b = backends[0];
    const c = config(tmp, [phpEntry('stable-1', 'stable', b)]);
    assert.equal((await probeVersion(b.probe)).version, '2.0.0');
    const { results } = await rollbackToPrevious({ config: c, backends: c.backends });
    assert.ok(results[0].ok, results[0].error);
    assert.equal((await probeVersion(b.probe)).version, '1.0.0');
    assert.equal(currentTarget(b.dir), `releases/${v1.id}`);
    // And forward again.
    assert.ok((await rollbackToPrevious({ config: c, backends: c.backends })).results[0].ok);
    assert.equal((await probeVersion(b.probe)).version, '2.0.0');
  });

  it('releaseRollbackTargets names the release each backend goes back to, without changing anything', async () => {
    const fresh = await bareEntry(tmp, 'targets-fresh', 'canary');
    const twice = await bareEntry(tmp, 'targets-twice', 'canary');
    const c = config(tmp, [fresh, twice, await bareEntry(tmp, 'targets-stable', 'stable')]);
    assert.ok((await deployArtifact({ config: c, artifact: v1, backends: [c.backends[0], c.backends[1]] })).results.every((r) => r.ok));
    assert.ok((await deployArtifact({ config: c, artifact: v2, backends: [c.backends[1]] })).results[0].ok);
    const before = currentTarget(twice.dir);
    const targets = await releaseRollbackTargets(c, 'canary');
    assert.deepEqual(targets, [
      { backend: 'targets-fresh', current: { id: v1.id, version: '1.0.0' }, previous: undefined, problem: 'no previous release' },
      { backend: 'targets-twice', current: { id: v2.id, version: '2.0.0' }, previous: { id: v1.id, version: '1.0.0' }, problem: undefined },
    ]);
    assert.equal(currentTarget(twice.dir), before, 'reading the targets switches nothing');
    assert.deepEqual(await releaseRollbackTargets(c, 'stable'), [
      { backend: 'targets-stable', current: undefined, previous: undefined, problem: 'no previous release' },
    ]);
  });

  it('a failure on one backend is reported as such while the others succeed', async () => {
    const good = await bareEntry(tmp, 'good');
    const bad = { ...(await bareEntry(tmp, 'bad')), restart: ['false'] };
    const c = config(tmp, [good, bad]);
    const { results } = await deployArtifact({ config: c, artifact: v1, backends: c.backends });
    assert.deepEqual(
      results.map((r) => [r.backend, r.ok, r.step]),
      [
        ['good', true, undefined],
        ['bad', false, 'restart'],
      ],
    );
  });

  it('a release rollback with one stable backend down never restarts the last healthy one: skipped with a report, 0 failed', async () => {
    lb ??= await startNginx({ dir: tmp, servers: backends.map((b) => b.upstream) });
    const [s1, s2] = backends;
    await s1.stop(); // stable-1 down
    try {
      const load = startLoad({ url: `${lb.url}/__version`, concurrency: 4, maxDurationMs: 30000 });
      const before = currentTarget(s2.dir);
      const { results } = await rollbackToPrevious({ config: cfg, backends: cfg.backends.filter((b) => b.name === 'stable-2') });
      const until = load.count() + 40;
      while (load.count() < until) await new Promise((r) => setTimeout(r, 10));
      const r = await load.stop();
      assert.equal(results[0].ok, false);
      assert.equal(results[0].skipped, true);
      assert.equal(results[0].step, 'check');
      assert.match(
        results[0].error ?? '',
        /^skipped stable-2: it is the last healthy backend of group stable \(stable-1 is down \(connection refused/,
      );
      assert.equal(currentTarget(s2.dir), before, 'stable-2 untouched');
      assert.deepEqual(r.failures, [], `lost ${r.failures.length} of ${r.total}`);
      console.log(`      last healthy skipped: ${r.total} requests, 0 lost`);

      // Both in one run, the healthy one first: it waits until the down one is back (restarted on its previous release).
      const order: string[] = [];
      const both = await rollbackToPrevious({
        config: cfg,
        backends: [cfg.backends[1], cfg.backends[0]],
        onProgress: ({ backend: b, step }) => step === 'restart' && b !== undefined && order.push(b),
      });
      assert.deepEqual(
        both.results.map((x) => [x.backend, x.ok, x.error]),
        [
          ['stable-2', true, undefined],
          ['stable-1', true, undefined],
        ],
      );
      assert.deepEqual(order, ['stable-1', 'stable-2'], 'the down backend was restarted first');
      assert.equal((await probeVersion(s1.probe)).version, '1.0.0');
      assert.equal((await probeVersion(s2.probe)).version, '1.0.0');
    } finally {
      if (!(await s1.pid())) await s1.start();
    }
  });
});
