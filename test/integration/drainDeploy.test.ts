import * as assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../../src/core/phar/artifact';
import { deployArtifact } from '../../src/core/backends/deployBackends';
import { probeVersion } from '../../src/core/backends/probe';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import type { RolloutConfig } from '../../src/core/config/rolloutConfig';
import type { Logger } from '../../src/core/log';
import { renderFor } from '../../src/core/traffic/apply';
import { startLoad } from '../helpers/loadClient';
import type { LoadRequest, LoadResult } from '../helpers/loadClient';
import { startNginx } from '../helpers/nginx';
import type { NginxServer } from '../helpers/nginx';
import { buildTestPhar, preparePhpBackend } from '../helpers/phpBackend';
import type { PhpBackend } from '../helpers/phpBackend';
import { waitFor } from '../helpers/wait';

/** GET and POST (with a body), fast and slow (300 ms): nginx never resends a POST it has sent. */
const MIX: LoadRequest[] = [
  { method: 'GET', path: '/' },
  { method: 'POST', path: '/', body: 'order=42&note=' + 'x'.repeat(2000) },
  { method: 'GET', path: '/slow' },
  { method: 'POST', path: '/slow', body: 'order=43' },
];

function summary(r: LoadResult): string {
  return `${r.total} requests (${JSON.stringify(r.byRequest)}), ${r.failures.length} failed, max ${r.maxInFlight} in flight, p95 ${Math.round(r.p95Ms)} ms, versions ${JSON.stringify(r.versions)}`;
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => undefined,
    debug: () => undefined,
    error: () => undefined,
    output: () => undefined,
    warn: (m) => warnings.push(m),
  };
}

describe('drain before restart: php -S backends behind real nginx (managed upstream)', function () {
  this.timeout(120000);
  let tmp: string;
  let v1: Artifact;
  let v2: Artifact;
  let v3: Artifact;
  const backends: PhpBackend[] = [];
  let lb: NginxServer;
  let cfg: RolloutConfig;

  /** stable-1, stable-2 (and canary-1, alone in its group) with the LB's managed file as the project's load balancer. */
  function config(overrides: Record<string, Record<string, unknown>> = {}): RolloutConfig {
    const names = ['stable-1', 'stable-2', 'canary-1'];
    return parseRolloutConfig(
      path.join(tmp, 'rollout.json'),
      JSON.stringify({
        backends: backends.map((b, i) => ({
          name: names[i],
          group: i < 2 ? 'stable' : 'canary',
          upstream: b.upstream,
          dir: b.dir,
          probe: b.probe,
          restart: b.restart,
          runtime: 'php-server',
          drainSeconds: 0.5,
          ...overrides[names[i]],
        })),
        loadBalancers: [{ name: 'lb', file: lb.upstreamFile, upstream: lb.upstream, test: lb.test, reload: lb.reload }],
        probe: { timeoutMs: 1000, deployDeadlineMs: 15000 },
      }),
    );
  }

  before(async function () {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-drain-'));
    const artifacts = path.join(tmp, 'artifacts');
    [v1, v2, v3] = await Promise.all(['1.0.0', '2.0.0', '3.0.0'].map((version) => buildTestPhar({ dir: artifacts, version })));
    for (const name of ['stable-1', 'stable-2', 'canary-1']) backends.push(await preparePhpBackend({ dir: path.join(tmp, name) }));
    lb = await startNginx({ dir: tmp, servers: backends.slice(0, 2).map((b) => b.upstream) });
    cfg = config({ 'canary-1': { drain: false } });
    // The managed file at 0 % (what `sandbox up` and a first ramp write), then v1 everywhere.
    await fs.writeFile(lb.upstreamFile, renderFor(cfg, cfg.loadBalancers[0], 0, new Date()));
    await lb.reloadNow();
    const { results } = await deployArtifact({ config: cfg, artifact: v1, backends: cfg.backends });
    assert.deepEqual(
      results.map((r) => r.error),
      [undefined, undefined, undefined],
    );
  });

  after(async () => {
    const errors: unknown[] = [];
    for (const b of backends) await b.stop().catch((e) => errors.push(e));
    await lb?.stop().catch((e) => errors.push(e));
    await fs.rm(tmp, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  });

  it('a rolling deploy of the 2-backend stable group under mixed GET/POST load: each backend is down in the live file during its restart, 0 failed', async () => {
    const load = startLoad({ url: lb.url, requests: MIX, concurrency: 8, maxDurationMs: 60000, timeoutMs: 10000 });
    await waitFor('load running', () => load.count() > 20, 10000);
    const downAtRestart: Record<string, string[]> = {};
    const { results } = await deployArtifact({
      config: cfg,
      artifact: v2,
      backends: cfg.backends.filter((b) => b.group === 'stable'),
      onProgress: ({ backend, step }) => {
        if (step !== 'restart' || !backend) return;
        const text = readFileSync(lb.upstreamFile, 'utf8');
        downAtRestart[backend] = text
          .split('\n')
          .filter((l) => /\sdown;/.test(l))
          .map((l) => /# (\S+) \(/.exec(l)?.[1] ?? l);
      },
    });
    const r = await load.stop();
    console.log(`      drained rolling deploy: ${summary(r)}`);
    assert.deepEqual(
      results.map((x) => [x.backend, x.ok, x.error]),
      [
        ['stable-1', true, undefined],
        ['stable-2', true, undefined],
      ],
    );
    assert.deepEqual(downAtRestart, { 'stable-1': ['stable-1'], 'stable-2': ['stable-2'] }, 'only the restarting backend was down');
    assert.doesNotMatch(readFileSync(lb.upstreamFile, 'utf8'), /\sdown;/, 'both back in rotation');
    assert.deepEqual(r.failures, [], `lost ${r.failures.length} of ${r.total}`);
    assert.ok(r.byRequest['POST /slow'] > 5, 'slow POSTs were in flight');
    assert.ok((r.versions['2.0.0'] ?? 0) > 0);
    for (const b of backends.slice(0, 2)) assert.equal((await probeVersion(b.probe)).version, '2.0.0');
  });

  it('the same deploy with "drain": false loses the slow POSTs in flight (why the drain matters)', async () => {
    const noDrain = config({ 'stable-1': { drain: false }, 'stable-2': { drain: false }, 'canary-1': { drain: false } });
    const log = recordingLogger();
    const load = startLoad({ url: lb.url, requests: MIX, concurrency: 8, maxDurationMs: 60000, timeoutMs: 10000 });
    await waitFor('load running', () => load.count() > 20, 10000);
    const { results } = await deployArtifact({ config: noDrain, artifact: v3, backends: noDrain.backends.slice(0, 2), log });
    const r = await load.stop();
    console.log(`      undrained rolling deploy: ${summary(r)}`);
    assert.ok(results.every((x) => x.ok));
    assert.ok(
      log.warnings.some((w) => /stable-1: "drain" is false: requests in flight during its restart may fail/.test(w)),
      log.warnings.join('\n'),
    );
    assert.ok(r.failures.length > 0, `expected lost requests without a drain (${summary(r)})`);
  });

  it('a lone backend (canary-1) is refused while it drains; with "drain": false it deploys with a warning', async () => {
    const draining = config();
    const refused = await deployArtifact({ config: draining, artifact: v2, backends: [draining.backends[2]] });
    assert.equal(refused.results[0].ok, false);
    assert.equal(refused.results[0].step, 'check');
    assert.match(refused.results[0].error ?? '', /^refused canary-1: it is the only backend of group canary.*"drain": false on canary-1/);
    assert.equal((await probeVersion(backends[2].probe)).version, '1.0.0', 'untouched');

    const log = recordingLogger();
    const ok = await deployArtifact({ config: cfg, artifact: v2, backends: [cfg.backends[2]], log });
    assert.deepEqual(
      ok.results.map((x) => [x.ok, x.error]),
      [[true, undefined]],
    );
    assert.ok(
      log.warnings.some((w) => /canary-1 is the only backend of group canary and "drain" is false: its restart interrupts/.test(w)),
      log.warnings.join('\n'),
    );
    assert.equal((await probeVersion(backends[2].probe)).version, '2.0.0');
  });
});
