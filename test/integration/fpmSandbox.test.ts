import * as assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeVersion } from '../../src/core/backends/probe';
import { run } from '../../src/core/exec/process';
import type { RunResult } from '../../src/core/exec/process';
import { isAlive, isGroupAlive } from '../../src/core/sandbox/phpServer';
import { portAccepts } from '../../src/core/sandbox/sandbox';
import { startLoad } from '../helpers/loadClient';
import { waitFor } from '../helpers/wait';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
const fpmInstalled = ['/usr/sbin/php-fpm8.2', '/usr/sbin/php-fpm', '/usr/bin/php-fpm'].some((f) => existsSync(f));

interface UpJson {
  status: string;
  php: string;
  project: string;
  lbUrl: string;
  backends: Array<{ name: string; group: string; url: string; pid: number; listening: boolean }>;
  nginx: { prefix: string; pid: number };
}

function cli(args: string[], allowFailure = false): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { timeoutMs: 120000, allowFailure });
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd })).stdout;
}

describe('sandbox up --php fpm: the sample app on php-fpm pools behind nginx (CLI)', function () {
  this.timeout(180000);
  let dir: string;
  let up: UpJson | undefined;

  before(async function () {
    if (!fpmInstalled) {
      if (process.env.CI === 'true') throw new Error('php-fpm is not installed (scripts/installSystemDeps.sh installs php8.2-fpm)');
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-fpm-sandbox-'));
  });

  after(async () => {
    if (!dir) return;
    if (existsSync(path.join(dir, 'sandbox.json'))) await cli(['sandbox', 'down', '--dir', dir], true);
    const pids = up ? [...up.backends.map((b) => b.pid), up.nginx.pid] : [];
    const survivors = pids.filter((p) => isAlive(p) || isGroupAlive(p));
    await fs.rm(dir, { recursive: true, force: true });
    assert.deepEqual(survivors, [], 'every sandbox process is gone');
  });

  it('up --php fpm: one pool per backend, the LB reaches them with fastcgi_pass; status shows the mode', async () => {
    up = JSON.parse((await cli(['sandbox', 'up', '--dir', dir, '--php', 'fpm', '--json'])).stdout) as UpJson;
    assert.equal(up.status, 'started');
    assert.equal(up.php, 'fpm');
    for (const b of up.backends) {
      assert.ok(b.listening, `${b.name} listens`);
      assert.ok(existsSync(path.join(dir, 'backends', b.name, 'fpm.conf')));
    }
    const conf = await fs.readFile(path.join(up.nginx.prefix, 'conf', 'nginx.conf'), 'utf8');
    assert.match(conf, /fastcgi_pass \$app_backend;/);
    assert.match(conf, /fastcgi_param SCRIPT_FILENAME current\/sample-app\.phar;/);
    const v = await probeVersion(`${up.lbUrl}__version`);
    assert.equal(v.version, '1.2.0');
    assert.match(v.sha256 ?? '', /^[0-9a-f]{64}$/, 'the sample app reports the sha256 of the phar it runs');
    const page = await fetch(up.lbUrl);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /1\.2\.0/);
    const post = await fetch(up.lbUrl, { method: 'POST', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(post.status, 200);
    const status = await cli(['sandbox', 'status', '--dir', dir]);
    assert.match(status.stdout, /^sandbox running \(php: fpm\)/);
  });

  it('deploy --group stable of a newer build under load: 0 failed, the pools serve it without a restart', async () => {
    const project = up!.project;
    const composer = path.join(project, 'composer.json');
    await fs.writeFile(composer, (await fs.readFile(composer, 'utf8')).replace('"version": "1.2.0"', '"version": "1.3.0"'));
    await git(project, 'commit', '-qam', 'Version 1.3.0');
    await cli(['build', '--project', project]);
    const load = startLoad({
      url: up!.lbUrl,
      requests: [
        { method: 'GET', path: '/' },
        { method: 'POST', path: '/', body: 'x=1' },
      ],
      concurrency: 4,
      maxDurationMs: 60000,
    });
    const d = await cli(['deploy', '--project', project, '--artifact', 'latest', '--group', 'stable', '--json'], true);
    const r = await load.stop();
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(r.failures, []);
    const pids = up!.backends.map((b) => b.pid);
    const again = JSON.parse((await cli(['sandbox', 'status', '--dir', dir, '--json'])).stdout) as UpJson;
    assert.deepEqual(
      again.backends.map((b) => b.pid),
      pids,
      'no pool was restarted',
    );
    const status = JSON.parse((await cli(['status', '--project', project, '--json'])).stdout) as {
      backends: Array<Record<string, unknown>>;
    };
    assert.deepEqual(
      status.backends.map((b) => [b.name, b.served, b.deployed, b.drift]),
      [
        ['stable-1', '1.3.0', '1.3.0', false],
        ['stable-2', '1.3.0', '1.3.0', false],
        ['canary-1', '1.2.0', '1.2.0', false],
      ],
    );
  });

  it('status checks the port, and down stops a pool whose master died while its workers still serve', async () => {
    const canary = up!.backends[2];
    const port = Number(new URL(canary.url).port);
    process.kill(canary.pid, 'SIGKILL'); // the master only: its workers keep the listening socket
    await waitFor('the master gone', () => !isAlive(canary.pid), 5000);
    const status = JSON.parse((await cli(['sandbox', 'status', '--dir', dir, '--json'], true)).stdout) as UpJson;
    const shown = status.backends[2];
    assert.equal(shown.listening, await portAccepts(port), 'listening is what the port says');
    if (isGroupAlive(canary.pid)) assert.equal(shown.pid, canary.pid, 'a live process group still counts as running');
    const down = JSON.parse((await cli(['sandbox', 'down', '--dir', dir, '--json'])).stdout) as { stopped: Array<{ name: string }> };
    assert.ok(down.stopped.some((s) => s.name === 'nginx'));
    for (const b of up!.backends) assert.ok(!isAlive(b.pid) && !isGroupAlive(b.pid), `${b.name}: the whole process group is gone`);
    assert.equal(await portAccepts(port), false, 'nothing answers on the canary port');
    const after = await cli(['sandbox', 'status', '--dir', dir], true);
    assert.equal(after.code, 1);
    assert.match(after.stdout, /canary-1 stopped/);
  });
});
