import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { reloadConfirmed } from '../../src/core/traffic/apply';
import { INSPECT_SCRIPT, markers, runScript } from '../../src/core/traffic/lbScripts';
import { waitFor } from '../helpers/wait';

const local = new LocalTransport();

/**
 * The LB scripts (src/core/traffic/lbScripts.ts) run by a real sh: a script whose command was killed
 * goes on running on the LB host; once a later command's script took the file over, it must stop
 * instead of confirming, keeping the applied configuration or marking an intent done.
 */
describe('LB scripts: an orphaned reload script (real sh)', function () {
  this.timeout(30000);
  let dir: string;
  let master: ChildProcess | undefined;
  let lb: LoadBalancerConfig;
  let pidFile: string;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lb-scripts-'));
    // A stand-in nginx master without workers: no old worker to wait for, so only the takeover decides.
    master = spawn('sleep', ['60'], { stdio: 'ignore' });
    pidFile = path.join(dir, 'nginx.pid');
    await fs.writeFile(pidFile, `${master.pid}\n`);
    const file = path.join(dir, 'app.conf');
    await fs.writeFile(file, '# phar-rollout split=50.00 time=x\n');
    lb = {
      name: 'edge',
      file,
      upstream: 'app',
      test: ['true'],
      // Blocks until the test lets it go: the moment a killed command's script would still be reloading.
      reload: `while [ ! -e '${path.join(dir, 'go')}' ]; do sleep 0.01; done`,
    } as LoadBalancerConfig;
  });

  afterEach(async () => {
    master?.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a later command takes the file over: the orphan stops before confirming, keeps nothing, leaves the intent', async () => {
    const f = lb.file;
    await fs.writeFile(`${f}.intent`, '{"op":"opA","owner":"killed@example.com"}\n');
    const orphan = reloadConfirmed(lb, local, { mode: 'apply', reload: true, op: 'opA', pidFile, deadlineMs: 5000, applied: '{"by":"A"}' });
    await waitFor(
      'the orphan to be reloading',
      async () => (await fs.readFile(`${f}.run`, 'utf8').catch(() => '')).includes(' opA'),
      10000,
    );
    // The next command (its recovery): leaves the file, no reload, under its own op.
    const next = await reloadConfirmed({ ...lb, reload: ['true'] }, local, { mode: 'keep', reload: false, op: 'opB', pidFile });
    assert.deepEqual(next, { ok: true });
    await fs.writeFile(path.join(dir, 'go'), '');
    const r = await orphan;
    assert.equal(r.ok, false);
    assert.match(r.message ?? '', /another Phar Rollout command took over .*app\.conf/);
    assert.ok(existsSync(`${f}.intent`), 'the orphan did not mark an intent done');
    assert.ok(!existsSync(`${f}.confirmed`), 'the orphan confirmed nothing');
    assert.ok(!existsSync(`${f}.applied.json`), 'the orphan kept no applied configuration');
    assert.match(await fs.readFile(`${f}.run`, 'utf8'), / opB\n$/, 'the file stays the later command’s');
  });

  it('without a takeover the same script confirms and keeps the applied configuration', async () => {
    const f = lb.file;
    await fs.writeFile(`${f}.intent`, '{"op":"opA","owner":"dev@example.com"}\n');
    await fs.writeFile(path.join(dir, 'go'), '');
    const r = await reloadConfirmed(lb, local, {
      mode: 'apply',
      reload: true,
      op: 'opA',
      pidFile,
      deadlineMs: 5000,
      applied: '{"by":"A"}',
    });
    assert.equal(r.ok, true, r.message);
    assert.ok(existsSync(`${f}.intent.done`) && !existsSync(`${f}.intent`), 'intent marked done');
    assert.ok(existsSync(`${f}.confirmed`));
    assert.equal(await fs.readFile(`${f}.applied.json`, 'utf8'), '{"by":"A"}');
  });
});

describe('LB scripts: the status fetch (real sh, wget or curl)', function () {
  this.timeout(30000);

  it('a status address that accepts and never answers costs one bounded try, not a stalled script', async () => {
    // Accepts every connection and never writes: wget's defaults would retry it 20 times.
    const held: net.Socket[] = [];
    const server = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lb-fetch-'));
    try {
      const { port } = server.address() as net.AddressInfo;
      const file = path.join(dir, 'app.conf');
      await fs.writeFile(file, '# phar-rollout split=50.00 time=x\n');
      const t0 = Date.now();
      const r = await runScript(local, INSPECT_SCRIPT, [file, `127.0.0.1:${port}`], { timeoutMs: 20000 });
      const took = Date.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(held.length >= 1, 'the fetch reached the listener');
      assert.equal(markers(r.stdout).marks.get('status'), '', 'no answer, so no status');
      assert.ok(took < 5000, `the inspect script took ${took} ms: the fetch is not bounded to one try`);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
