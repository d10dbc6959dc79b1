/**
 * The sample app's switches for analysis tests (issue 9 item 11): FAIL and SLOW hold
 * "<value> [<path prefix>]", and /checkout (GET, POST) and /api/items answer 200.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../../src/core/net/freePort';
import { waitFor } from '../helpers/wait';
import { buildSampleApp } from '../helpers/sampleApp';

describe('sample app switches for canary analysis', function () {
  let tmp: string;
  let backend: string;
  let child: ChildProcess | undefined;
  let url: string;

  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-analysis-app-'));
    const artifact = await buildSampleApp(tmp);
    backend = path.join(tmp, 'backend');
    const release = path.join(backend, 'releases', artifact.id);
    await fs.mkdir(release, { recursive: true });
    await fs.copyFile(artifact.pharPath, path.join(release, 'sample-app.phar'));
    await fs.symlink(path.join('releases', artifact.id), path.join(backend, 'current'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn('php', ['-S', `127.0.0.1:${port}`, path.join(backend, 'current', 'sample-app.phar')], { stdio: 'ignore' });
    await waitFor('php -S to answer', async () => (await fetch(`${url}/__version`)).ok, 10000);
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  const status = async (p: string, method = 'GET') => {
    const r = await fetch(`${url}${p}`, { method });
    await r.arrayBuffer();
    return r.status;
  };
  const statuses = async (p: string, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await status(p));
    return out;
  };

  it('answers /checkout (GET, POST) and /api/items with 200', async () => {
    assert.deepEqual(
      [await status('/checkout'), await status('/checkout', 'POST'), await status('/api/items'), await status('/nope')],
      [200, 200, 200, 404],
    );
  });

  it('FAIL "<rate> <prefix>" fails about that share under the prefix only; empty fails all', async () => {
    await fs.writeFile(path.join(backend, 'FAIL'), '0.5 /checkout\n');
    try {
      const checkout = await statuses('/checkout', 200);
      const failed = checkout.filter((s) => s === 500).length;
      assert.ok(failed > 60 && failed < 140, `${failed} of 200 failed`); // binomial(200, 0.5): far outside ±5 sd
      assert.deepEqual(new Set(await statuses('/api/items', 30)), new Set([200]));
      assert.equal(await status('/__version'), 200);
      await fs.writeFile(path.join(backend, 'FAIL'), '1');
      assert.deepEqual(new Set(await statuses('/api/items', 5)), new Set([500]));
      await fs.writeFile(path.join(backend, 'FAIL'), '');
      assert.equal(await status('/'), 500);
    } finally {
      await fs.rm(path.join(backend, 'FAIL'), { force: true });
    }
    assert.equal(await status('/checkout'), 200);
  });

  it('SLOW "<ms> <prefix>" delays only that prefix', async () => {
    await fs.writeFile(path.join(backend, 'SLOW'), '300 /api');
    try {
      const time = async (p: string) => {
        const t = Date.now();
        await status(p);
        return Date.now() - t;
      };
      assert.ok((await time('/api/items')) >= 300);
      assert.ok((await time('/checkout')) < 250);
    } finally {
      await fs.rm(path.join(backend, 'SLOW'), { force: true });
    }
  });
});
