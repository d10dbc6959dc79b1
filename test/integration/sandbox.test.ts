import * as assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeVersion } from '../../src/core/backends/probe';
import { run } from '../../src/core/exec/process';
import type { RunResult } from '../../src/core/exec/process';
import { isAlive, isGroupAlive } from '../../src/core/sandbox/phpServer';
import { startLoad } from '../helpers/loadClient';

// The CLI as tsc compiled it (out/src/cli.js): it finds php/compile.php and the sample app by walking up.
const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

interface UpJson {
  status: string;
  project: string;
  lbUrl: string;
  backends: Array<{ name: string; group: string; url: string; pid: number }>;
  nginx: { prefix: string; pid: number };
  artifact?: string;
}

function cli(args: string[], allowFailure = false): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { timeoutMs: 120000, allowFailure });
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd })).stdout;
}

function allPids(up: UpJson): number[] {
  return [...up.backends.map((b) => b.pid), up.nginx.pid];
}

describe('sandbox up / deploy / status / down through the CLI', function () {
  let dir: string;
  let up: UpJson | undefined;
  /** What the stable group serves (1.3.0 once the rolling deploy test ran). */
  let stableVersion = '1.2.0';

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-sandbox-'));
  });

  after(async () => {
    // Whatever happened, stop what the sandbox started; report a process that survives.
    if (existsSync(path.join(dir, 'sandbox.json'))) await cli(['sandbox', 'down', '--dir', dir], true);
    const survivors = up ? allPids(up).filter((p) => isAlive(p) || isGroupAlive(p)) : [];
    await fs.rm(dir, { recursive: true, force: true });
    assert.deepEqual(survivors, [], 'every sandbox process is gone');
  });

  it('up: builds the sample app and starts 2 stable + 1 canary php backends and nginx at 0 %', async () => {
    const r = await cli(['sandbox', 'up', '--dir', dir, '--json']);
    up = JSON.parse(r.stdout) as UpJson;
    assert.equal(up.status, 'started');
    assert.equal(up.project, path.join(dir, 'project'));
    assert.deepEqual(
      up.backends.map((b) => [b.name, b.group]),
      [
        ['stable-1', 'stable'],
        ['stable-2', 'stable'],
        ['canary-1', 'canary'],
      ],
    );
    assert.ok(
      allPids(up).every((p) => Number.isInteger(p) && isAlive(p)),
      JSON.stringify(up),
    );
    for (const b of up.backends) assert.equal((await probeVersion(`${b.url}__version`)).version, '1.2.0');
    assert.equal((await probeVersion(`${up.lbUrl}__version`)).version, '1.2.0', 'the LB answers');
    const upstream = await fs.readFile(path.join(up.nginx.prefix, 'conf', 'upstream.conf'), 'utf8');
    assert.match(upstream, /split=0\.00/);
    assert.doesNotMatch(upstream, /canary-1/, 'at 0 % no canary server is in the upstream');
    assert.equal((await git(up.project, 'status', '--porcelain')).trim(), '', 'the project is committed, builds have a commit');
  });

  it('up again on a running sandbox reports it and changes nothing', async () => {
    const again = JSON.parse((await cli(['sandbox', 'up', '--dir', dir, '--json'])).stdout) as UpJson;
    assert.equal(again.status, 'running');
    assert.deepEqual(allPids(again), allPids(up!));
  });

  it('deploy --group canary of a newer build, then status --json shows both versions without drift', async () => {
    const project = up!.project;
    const composer = path.join(project, 'composer.json');
    await fs.writeFile(composer, (await fs.readFile(composer, 'utf8')).replace('"version": "1.2.0"', '"version": "1.3.0"'));
    await git(project, 'commit', '-qam', 'Version 1.3.0');
    const built = JSON.parse((await cli(['build', '--project', project, '--json'])).stdout) as { id: string; version: string };
    assert.equal(built.version, '1.3.0');
    // Traffic keeps flowing through the LB (stable only at 0 %) while the canary is replaced.
    const load = startLoad({ url: `${up!.lbUrl}__version`, concurrency: 2, maxDurationMs: 30000 });
    const d = await cli(['deploy', '--project', project, '--artifact', 'latest', '--group', 'canary', '--json']);
    const lost = await load.stop();
    const deployed = JSON.parse(d.stdout) as { artifact: { id: string }; results: Array<{ backend: string; ok: boolean }> };
    assert.equal(deployed.artifact.id, built.id);
    assert.deepEqual(
      deployed.results.map((x) => [x.backend, x.ok]),
      [['canary-1', true]],
    );
    assert.deepEqual(lost.failures, []);
    const status = JSON.parse((await cli(['status', '--project', project, '--json'])).stdout) as {
      backends: Array<Record<string, unknown>>;
    };
    assert.deepEqual(
      status.backends.map((b) => [b.name, b.group, b.served, b.deployed, b.healthy, b.drift, typeof b.latencyMs]),
      [
        ['stable-1', 'stable', '1.2.0', '1.2.0', true, false, 'number'],
        ['stable-2', 'stable', '1.2.0', '1.2.0', true, false, 'number'],
        ['canary-1', 'canary', '1.3.0', '1.3.0', true, false, 'number'],
      ],
    );
    const history = await fs.readFile(path.join(project, '.rollout', 'history.jsonl'), 'utf8');
    assert.match(history, /"action":"deploy","target":"canary"/);
  });

  it('deploy --group stable (a rolling restart behind the LB) loses no request', async () => {
    // nginx marks a server that refused a connection as down for fail_timeout (max_fails=1 by
    // default): restarting stable-1 and then stable-2 marks both, and nginx answers 502 "no live
    // upstreams" until the timers run out. The managed file must say max_fails=0 (or similar).
    const upstream = await fs.readFile(path.join(up!.nginx.prefix, 'conf', 'upstream.conf'), 'utf8');
    assert.match(upstream, /max_fails=0/, 'the managed file must not let nginx mark restarting servers down');
    const project = up!.project;
    const load = startLoad({ url: `${up!.lbUrl}__version`, concurrency: 4, maxDurationMs: 30000 });
    const d = await cli(['deploy', '--project', project, '--artifact', 'latest', '--group', 'stable', '--json'], true);
    const r = await load.stop();
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(r.failures, [], `lost ${r.failures.length} of ${r.total}`);
    stableVersion = '1.3.0';
  });

  it('deploy exits 1 and names the backend when a deploy fails; 2 on bad input', async () => {
    const bad = await cli(['deploy', '--project', up!.project, '--artifact', 'no-such-id', '--group', 'canary'], true);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /No artifact "no-such-id"/);
    const both = await cli(['deploy', '--project', up!.project, '--artifact', 'latest'], true);
    assert.equal(both.code, 2);
    // A copy of the project whose canary restart hook is `false`: the deploy fails at restart and current goes back.
    const copy = path.join(dir, 'broken');
    await fs.cp(up!.project, copy, { recursive: true });
    const file = path.join(copy, 'rollout.json');
    const cfg = JSON.parse(await fs.readFile(file, 'utf8')) as { backends: Array<{ name: string; restart: unknown }> };
    cfg.backends.find((b) => b.name === 'canary-1')!.restart = ['false'];
    await fs.writeFile(file, JSON.stringify(cfg));
    const stableArtifact = (await fs.readdir(path.join(copy, '.rollout', 'artifacts'))).find((n) => n.startsWith('1.2.0-'))!;
    const failed = await cli(['deploy', '--project', copy, '--artifact', stableArtifact, '--backend', 'canary-1'], true);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /canary-1\s+FAILED \(restart\)/);
    assert.equal((await probeVersion(`${up!.backends[2].url}__version`)).version, '1.3.0', 'the canary still serves its release');
  });

  it('down stops every process it started (and removes nothing); up restarts them with their releases', async () => {
    const r = await cli(['sandbox', 'down', '--dir', dir, '--json']);
    const { stopped } = JSON.parse(r.stdout) as { stopped: Array<{ name: string; pid: number }> };
    assert.deepEqual(stopped.map((s) => s.name).sort(), ['canary-1', 'nginx', 'stable-1', 'stable-2']);
    for (const s of stopped) assert.ok(!isAlive(s.pid) && !isGroupAlive(s.pid), `${s.name} (pid ${s.pid}) is gone`);
    assert.ok(existsSync(path.join(up!.project, 'composer.json')) && existsSync(path.join(dir, 'backends', 'canary-1', 'current')));
    const status = await cli(['sandbox', 'status', '--dir', dir], true);
    assert.equal(status.code, 1);

    up = JSON.parse((await cli(['sandbox', 'up', '--dir', dir, '--json'])).stdout) as UpJson;
    assert.equal(up.status, 'restarted');
    assert.equal((await probeVersion(`${up.backends[2].url}__version`)).version, '1.3.0', 'the canary kept its release');
    assert.equal((await probeVersion(`${up.lbUrl}__version`)).version, stableVersion, 'stable kept its release');
  });
});
