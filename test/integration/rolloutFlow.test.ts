import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../../src/core/phar/artifact';
import { buildProject } from '../../src/core/phar/pharBuild';
import { probeVersion } from '../../src/core/backends/probe';
import { InputError } from '../../src/core/errors';
import { run } from '../../src/core/exec/process';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { nullLogger } from '../../src/core/log';
import { readHistory } from '../../src/core/rollout/history';
import { LockedError } from '../../src/core/exec/hostLock';
import { promote } from '../../src/core/rollout/promote';
import { pause } from '../../src/core/rollout/pause';
import { SplitChangedError, previewRamp, ramp } from '../../src/core/rollout/ramp';
import { resume } from '../../src/core/rollout/resume';
import { rollback } from '../../src/core/rollout/rollback';
import { readState } from '../../src/core/rollout/state';
import { rolloutStatus } from '../../src/core/rollout/status';
import { unlock } from '../../src/core/rollout/unlock';
import { verifySplit } from '../../src/core/rollout/verifySplit';
import { readSplit } from '../../src/core/traffic/apply';
import { readLive } from '../../src/core/traffic/live';
import { nginxWorkers, startLab, waitReloaded } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import { waitFor } from '../helpers/wait';

const local = new LocalTransport();
const FIXTURE = path.resolve(__dirname, '../../../test/fixtures/sample-app');
const COMPILER = path.resolve(__dirname, '../../../php/compile.php');
const ALICE = 'alice@example.com';
// The CLI as tsc emits it (out/src/cli.js).
const CLI = path.resolve(__dirname, '../../src/cli.js');

async function git(dir: string, ...args: string[]): Promise<string> {
  return (
    await run('git', args, { cwd: dir, env: { GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' } })
  ).stdout.trim();
}

async function setVersion(dir: string, version: string): Promise<void> {
  const file = path.join(dir, 'composer.json');
  const json = JSON.parse(await fs.readFile(file, 'utf8')) as { version: string };
  json.version = version;
  await fs.writeFile(file, JSON.stringify(json, null, 4) + '\n');
}

/** sha256 of every file of the working tree (but .git and .rollout), plus git's index and HEAD. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = path.join(rel, e.name);
      if (p === '.git' || p === '.rollout') continue;
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) out.set(p, `link:${await fs.readlink(path.join(dir, p))}`);
      else
        out.set(
          p,
          createHash('sha256')
            .update(await fs.readFile(path.join(dir, p)))
            .digest('hex'),
        );
    }
  };
  await walk('');
  for (const f of ['.git/index', '.git/HEAD'])
    out.set(
      f,
      createHash('sha256')
        .update(await fs.readFile(path.join(dir, f)))
        .digest('hex'),
    );
  out.set('git status', await git(dir, 'status', '--porcelain', '--ignored'));
  return out;
}

describe('rollout flow on the sample app (real git, build, php, nginx)', function () {
  this.timeout(240000);
  let tmp: string;
  let repo: string;
  let lab: Lab;
  let v1: Artifact;
  let v2: Artifact;
  const opts = { user: ALICE, log: nullLogger };

  before(async function () {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-flow-'));
    repo = path.join(tmp, 'repo');
    await fs.cp(FIXTURE, repo, { recursive: true, filter: (src) => !/\/(vendor|\.rollout|build)(\/|$)/.test(src.slice(FIXTURE.length)) });
    await git(repo, 'init', '-q', '-b', 'main');
    await git(repo, 'config', 'user.email', ALICE);
    await git(repo, 'config', 'user.name', 'Alice');
    await setVersion(repo, '1.0.0');
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', 'v1');
    await git(repo, 'tag', 'v1.0.0');
    v1 = (await buildProject({ projectDir: repo, compilerScript: COMPILER, log: nullLogger })).artifact;
    await setVersion(repo, '2.0.0');
    await git(repo, 'commit', '-q', '-am', 'v2');
    await git(repo, 'tag', 'v2.0.0');
    v2 = (await buildProject({ projectDir: repo, compilerScript: COMPILER, log: nullLogger })).artifact;
    lab = await startLab({ projectDir: repo, artifacts: { stable: v1, canary: v2 }, rollout: { traffic: { steps: [5, 25, 50, 100] } } });
  });

  after(async () => {
    await lab?.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it('ramps to the next step with a passing gate, recording state and history', async () => {
    const r = await ramp(lab.config, { next: true }, opts);
    assert.equal(r.ok, true);
    assert.equal(r.before, 0);
    assert.equal(r.after, 5);
    assert.equal(r.steps[0].gate?.pass, true);
    assert.equal(r.steps[0].gate?.canary.samples, 20);
    assert.equal(r.steps[0].gate?.stable?.samples, 20);
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 5);
    const state = await readState(lab.projectDir);
    assert.equal(state?.status, 'running');
    assert.equal(state?.stepIndex, 0);
    assert.equal(state?.split, 5);
    assert.equal(state?.canaryArtifact, v2.id);
    const h = await readHistory(lab.projectDir);
    assert.deepEqual(
      h.map((e) => [e.user, e.action, e.result]),
      [
        [ALICE, 'ramp', 'ok'],
        [ALICE, 'gate', 'pass'],
      ],
    );
    assert.deepEqual([h[0].before, h[0].after, h[0].target], [{ split: 0 }, { split: 5 }, 'lb-1']);
  });

  it('previews the next step as old and new file text without changing anything', async () => {
    const p = await previewRamp(lab.config, { next: true }, opts);
    assert.equal(p.before, 5);
    assert.equal(p.after, 25);
    assert.match(p.files[0].oldText, /^# phar-rollout split=5\.00 /);
    assert.match(p.files[0].newText, /^# phar-rollout split=25\.00 /);
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 5);
  });

  it('a confirmed ramp applies exactly what was confirmed, or nothing when the live split changed', async () => {
    const preview = await previewRamp(lab.config, { next: true }, opts);
    const historyBefore = await readHistory(lab.projectDir, { all: true });
    // Someone ramped after the preview: the confirmed change (from 5 %) is refused, nothing changes.
    await assert.rejects(ramp(lab.config, { percent: preview.after }, { ...opts, gate: false, expectBefore: 10 }), (err: Error) => {
      assert.ok(err instanceof SplitChangedError, String(err));
      assert.match(err.message, /expected 10 %, the load balancers carry lb-1 5 %; nothing was changed/);
      return true;
    });
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 5);
    assert.deepEqual(await readHistory(lab.projectDir, { all: true }), historyBefore);
    // The split the user saw: applied as confirmed.
    const r = await ramp(lab.config, { percent: preview.after }, { ...opts, gate: false, expectBefore: preview.before ?? null });
    assert.deepEqual([r.before, r.after], [5, 25]);
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 25);
  });

  it('two ramps at once: the second is refused with the holder’s name', async () => {
    const slow = { ...lab.config, gates: { ...lab.config.gates, samples: 400 } };
    const first = ramp(slow, { percent: 10 }, { ...opts, user: ALICE });
    const lockDir = `${lab.config.loadBalancers[0].file}.lock`;
    await waitFor('the first ramp to hold the lock', () => fs.stat(lockDir).then(() => true), 10000, 2);
    await assert.rejects(ramp(lab.config, { percent: 20 }, { ...opts, user: 'bob@example.com' }), (err: Error) => {
      assert.ok(err instanceof LockedError, String(err));
      assert.match(err.message, new RegExp(`locked by ${ALICE} on ${os.hostname()} \\(ramp to 10 %\\)`));
      return true;
    });
    const status = await rolloutStatus(lab.config, opts);
    assert.equal(status.lock?.user, ALICE);
    assert.equal((await first).ok, true);
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 10);
    await assert.rejects(fs.stat(lockDir), /ENOENT/);
  });

  it('a cancelled gate puts the split back to the previous step (confirmed live), releases the lock and says where the LBs are', async () => {
    const before = (await readSplit(lab.config.loadBalancers[0], local)).split;
    assert.ok(before !== undefined && before !== 15);
    const slow = { ...lab.config, gates: { ...lab.config.gates, samples: 5000 } };
    const ac = new AbortController();
    const running = ramp(slow, { percent: 15 }, { ...opts, signal: ac.signal });
    await waitFor('the gate to start', async () => (await readState(lab.projectDir))?.split === 15, 10000, 2);
    ac.abort();
    await assert.rejects(running, (err: Error) => {
      assert.equal(err.name, 'CancelledError');
      assert.equal(err.message, `Cancelled during the gate at 15 %: every load balancer is back on ${before} % (confirmed live)`);
      return true;
    });
    await assert.rejects(fs.stat(`${lab.config.loadBalancers[0].file}.lock`), /ENOENT/);
    const live = await readLive(lab.config.loadBalancers[0], local);
    assert.equal(live.live?.split, before, 'nginx serves the previous split');
    assert.equal(live.split, before, 'and the file says so');
    assert.equal((await readState(lab.projectDir))?.split, before);
    const last = (await readHistory(lab.projectDir)).pop();
    assert.equal(last?.action, 'ramp');
    assert.deepEqual(last?.after, { split: before });
    assert.equal(last?.result, 'ok (gate at 15 % cancelled, back to the previous step)');
  });

  it('a canary that starts answering 500 is rolled back by its gate', async () => {
    const canaryDir = lab.config.backends.find((b) => b.group === 'canary')!.dir;
    await fs.writeFile(path.join(canaryDir, 'FAIL'), '');
    try {
      const r = await ramp(lab.config, { percent: 25 }, opts);
      assert.equal(r.ok, false);
      assert.equal(r.rolledBack, true);
      assert.equal(r.after, 0);
      assert.match(r.reason!, /canary error rate 100 % \(20\/20: HTTP 500\) > 1 %/);
      assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
      const state = await readState(lab.projectDir);
      assert.equal(state?.status, 'failed');
      assert.equal(state?.split, 0);
      assert.match(state!.message!, /gate failed at 25 %.*rolled back to 0 %/);
      const h = (await readHistory(lab.projectDir)).slice(-3);
      assert.deepEqual(
        h.map((e) => e.action),
        ['ramp', 'gate', 'rollback'],
      );
      assert.match(h[1].result, /^fail: canary error rate/);
      assert.deepEqual([h[2].before, h[2].after], [{ split: 25 }, { split: 0 }]);
      assert.match(h[2].result, /^ok \(gate failed: /);
    } finally {
      await fs.rm(path.join(canaryDir, 'FAIL'), { force: true });
    }
  });

  it('pause refuses ramps until resume; a plan run stops at a pause between steps', async () => {
    const r = await ramp(lab.config, { next: true }, opts); // a new rollout after the failed one
    assert.equal(r.after, 5);
    await pause(lab.config, opts);
    await assert.rejects(ramp(lab.config, { next: true }, opts), (err: Error) => err instanceof InputError && /paused/.test(err.message));
    await resume(lab.config, opts);
    const all = ramp(lab.config, { next: true, all: true }, opts);
    await waitFor('the plan run to reach 25 %', async () => (await readState(lab.projectDir))?.split === 25, 20000, 5);
    await pause(lab.config, opts);
    const done = await all;
    assert.equal(done.ok, true);
    assert.equal(done.paused, true);
    assert.ok(done.after < 100, `stopped at ${done.after}`);
    assert.equal((await readState(lab.projectDir))?.status, 'paused');
    await resume(lab.config, opts);
  });

  it('verify-split reports the share per version against the configured split', async () => {
    const workers = await nginxWorkers(lab.lbs[0].prefix);
    await ramp(lab.config, { percent: 50 }, opts);
    await waitReloaded(lab.lbs[0].prefix, workers);
    const v = await verifySplit(lab.config, { requests: 400 }, opts);
    const lb = v.loadBalancers[0];
    assert.equal(lb.configured, 50);
    assert.equal(lb.errors, 0);
    assert.deepEqual(v.stableVersions, ['1.0.0']);
    assert.deepEqual(v.canaryVersions, ['2.0.0']);
    assert.ok(Math.abs(lb.deviation!) <= 2, JSON.stringify(lb));
    assert.deepEqual(lb.versions.map((x) => [x.version, x.side]).sort(), [
      ['1.0.0', 'stable'],
      ['2.0.0', 'canary'],
    ]);
  });

  it('promote deploys the canary release to stable, then sets 0 %', async () => {
    const r = await promote(lab.config, opts);
    assert.equal(r.artifact.id, v2.id);
    assert.deepEqual(
      r.results.map((x) => x.ok),
      [true, true],
    );
    for (const b of lab.config.backends) assert.equal((await probeVersion(b.probe!)).version, '2.0.0');
    assert.equal((await readSplit(lab.config.loadBalancers[0], local)).split, 0);
    assert.equal((await readState(lab.projectDir))?.status, 'done');
    const h = await readHistory(lab.projectDir);
    const p = h.find((e) => e.action === 'promote');
    assert.deepEqual(p?.after, { release: v2.id });
    assert.equal(p?.result, 'ok');
  });

  it('release rollback switches the chosen group back to its previous release', async () => {
    const r = await rollback(lab.config, { speed: 'release', group: 'stable' }, opts);
    assert.deepEqual(Object.values(r.releasesBefore!), [v2.id, v2.id]);
    assert.deepEqual(Object.values(r.releasesAfter!), [v1.id, v1.id]);
    for (const b of lab.config.backends.filter((x) => x.group === 'stable')) assert.equal((await probeVersion(b.probe!)).version, '1.0.0');
  });

  it('a release rollback that fails on one backend reports every backend (CLI --json too), exit 1', async () => {
    const [s1, s2] = lab.config.backends.filter((x) => x.group === 'stable');
    await fs.rm(path.join(s1.dir, 'previous')); // s1 has nowhere to go back to; s2 does (v2)
    const r = await run('node', [CLI, 'rollback', '--project', lab.projectDir, '--release', '--group', 'stable', '--json'], {
      allowFailure: true,
      timeoutMs: 60000,
      env: { GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      results: Array<{ backend: string; ok: boolean; step?: string; error?: string }>;
      releasesAfter: Record<string, string | null>;
    };
    assert.equal(out.ok, false);
    assert.deepEqual(
      out.results.map((x) => [x.backend, x.ok, x.step]),
      [
        [s1.name, false, 'switch'],
        [s2.name, true, undefined],
      ],
    );
    assert.match(out.results[0].error!, /no previous release/);
    assert.deepEqual(out.releasesAfter, { [s1.name]: v1.id, [s2.name]: v2.id });
    assert.equal((await probeVersion(s2.probe!)).version, '2.0.0', 'the backend that succeeded was switched and reported');
    const h = (await readHistory(lab.projectDir, { all: true })).slice(-2);
    assert.deepEqual(
      h.map((e) => [e.action, e.result.replace(/:.*/s, '')]),
      [
        ['rollback-release', 'started'],
        ['rollback-release', 'failed'],
      ],
    );
    assert.equal(h[0].id, h[1].id);
  });

  it('rebuild rollback builds a tag in a separate worktree and deploys it; the working tree is byte-for-byte unchanged', async () => {
    // Someone's uncommitted work must survive: an edited tracked file and an untracked one.
    await fs.appendFile(path.join(repo, 'src', 'App.php'), '\n// work in progress\n');
    await fs.writeFile(path.join(repo, 'notes.txt'), 'untracked\n');
    const before = await snapshot(repo);
    assert.match(before.get('git status')!, /M src\/App\.php/);
    const worktreesBefore = await git(repo, 'worktree', 'list', '--porcelain');
    const tmpBefore = (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('phar-rollout-rebuild-'));
    const r = await rollback(lab.config, { speed: 'rebuild', ref: 'v1.0.0' }, { ...opts, compilerScript: COMPILER });
    assert.equal(r.artifact?.version, '1.0.0');
    const canary = lab.config.backends.find((b) => b.group === 'canary')!;
    assert.equal((await probeVersion(canary.probe!)).version, '1.0.0');
    assert.deepEqual(Object.values(r.releasesAfter!), [r.artifact!.id]);
    assert.deepEqual(await snapshot(repo), before);
    assert.equal(await git(repo, 'worktree', 'list', '--porcelain'), worktreesBefore);
    assert.deepEqual(
      (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('phar-rollout-rebuild-')),
      tmpBefore,
    );
    assert.ok(
      await fs.stat(path.join(repo, '.rollout', 'artifacts', r.artifact!.id, 'manifest.json')),
      'artifact kept in the project store',
    );
    const h = (await readHistory(lab.projectDir)).pop();
    assert.equal(h?.action, 'rollback-rebuild');
    assert.deepEqual((h?.after as { ref: string }).ref, 'v1.0.0');
  });

  it('unlock --force removes a live lock and logs who held it', async () => {
    const lockDir = `${lab.config.loadBalancers[0].file}.lock`;
    await fs.mkdir(lockDir);
    await fs.writeFile(
      path.join(lockDir, 'owner.json'),
      JSON.stringify({
        token: 'x',
        user: 'carol@example.com',
        host: 'elsewhere',
        owner: 'carol@example.com on elsewhere',
        pid: 1,
        since: new Date().toISOString(),
        operation: 'ramp to 50 %',
      }),
    );
    await assert.rejects(unlock(lab.config, { force: false }, opts), LockedError);
    const holder = await unlock(lab.config, { force: true }, opts);
    assert.equal(holder?.owner, 'carol@example.com on elsewhere');
    await assert.rejects(fs.stat(lockDir), /ENOENT/);
    const h = (await readHistory(lab.projectDir)).pop();
    assert.equal(h?.action, 'unlock');
    assert.equal(h?.result, 'ok (forced)');
    assert.deepEqual((h?.before as { owner: string }).owner, 'carol@example.com on elsewhere');
  });
});
