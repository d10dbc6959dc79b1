import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, OperationError } from '../../src/core/errors';
import { ProcessError } from '../../src/core/exec/process';
import { SshTransport } from '../../src/core/exec/sshTransport';
import { isAlive } from '../../src/core/sandbox/phpServer';
import { sha256File } from '../helpers/phpBackend';
import { startSshd, sshdAvailable } from '../helpers/sshd';
import { waitFor } from '../helpers/wait';
import type { SshServer } from '../helpers/sshd';
import { skipUnlessCi } from '../helpers/skip';

const hostile = (marker: string) => [
  "it's",
  '"dq"',
  `$(touch ${marker})`,
  `\`touch ${marker}\``,
  'a\nb',
  'a  b',
  'ünï ✓',
  '-rf',
  '',
  '*',
  '/*',
  'a;b|c&d',
  '~',
  '~/x',
  '\\',
  '$HOME',
  "'; exit 3 #",
];

describe('ssh transport against a real OpenSSH server on loopback', function () {
  let sshd: SshServer | undefined;
  let t: SshTransport;
  let tmp: string;

  before(async function () {
    if (!sshdAvailable()) {
      skipUnlessCi(this, '/usr/sbin/sshd or ssh-keygen is not installed');
    }
    sshd = await startSshd();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-ssh-'));
    t = new SshTransport(sshd.destination, { sshArgs: sshd.sshArgs });
  });

  after(async () => {
    await t?.dispose();
    await sshd?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('passes hostile arguments through the remote shell byte for byte', async () => {
    const marker = path.join(tmp, 'pwned');
    const r = await t.exec(['printf', '%s\\0', ...hostile(marker)]);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), hostile(marker));
    assert.ok(!existsSync(marker), 'no command substitution ran');
  });

  it('runs a string command through sh -c and an array exactly', async () => {
    assert.equal((await t.command('echo "$((6 * 7))"')).stdout.trim(), '42');
    assert.equal((await t.command(['echo', '$((6 * 7))'])).stdout.trim(), '$((6 * 7))');
  });

  it('reports a remote failure with its output, and allowFailure returns it', async () => {
    await assert.rejects(
      t.exec(['sh', '-c', 'echo oops >&2; exit 3']),
      (err: unknown) => err instanceof ProcessError && /exited with 3 on .*: oops/.test(err.message),
    );
    const r = await t.exec(['sh', '-c', 'exit 4'], { allowFailure: true });
    assert.equal(r.code, 4);
  });

  it('multiplexes: one master, and each further command is much cheaper than a connection', async () => {
    const pid = await t.masterPid();
    assert.ok(pid && isAlive(pid), 'a master runs');
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await t.exec(['true']);
    const per = (performance.now() - t0) / 5;
    const fresh = new SshTransport(sshd!.destination, { sshArgs: sshd!.sshArgs, multiplex: false });
    const t1 = performance.now();
    await fresh.exec(['true']);
    const connect = performance.now() - t1;
    assert.equal(await t.masterPid(), pid, 'still the same master');
    assert.ok(per < connect, `a multiplexed command (${per.toFixed(0)} ms) is cheaper than a connection (${connect.toFixed(0)} ms)`);
    console.log(`      multiplexed command ${per.toFixed(1)} ms, fresh connection ${connect.toFixed(1)} ms`);
  });

  it('concurrent first commands share one master (no race to become master)', async () => {
    const other = new SshTransport(sshd!.destination, { sshArgs: sshd!.sshArgs });
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => other.exec(['echo', String(i)])));
      assert.deepEqual(
        results.map((r) => r.stdout.trim()),
        ['0', '1', '2', '3', '4', '5', '6', '7'],
      );
      assert.ok(await other.masterPid());
    } finally {
      await other.dispose();
    }
  });

  it('uploads a file by streaming it, with progress, byte-exact', async () => {
    const local = path.join(tmp, 'big.bin');
    await fs.writeFile(local, randomBytes(3 * 1024 * 1024 + 17));
    const remote = path.join(tmp, 'copy of big.bin');
    const seen: number[] = [];
    await t.upload(local, remote, { onProgress: (b) => seen.push(b) });
    assert.equal(await sha256File(remote), await sha256File(local));
    assert.equal(seen[seen.length - 1], 3 * 1024 * 1024 + 17);
    assert.ok(seen.length > 1 && seen.every((b, i) => i === 0 || b > seen[i - 1]), 'progress increases');
  });

  it('cancelling kills the remote command too (the master would otherwise run it to its end)', async () => {
    const marker = path.join(tmp, 'finished');
    const abort = new AbortController();
    let remotePid: number | undefined;
    const p = t.exec(['sh', '-c', 'echo "$$"; sleep 30; touch "$1"', 'sh', marker], {
      signal: abort.signal,
      onLine: (line, stream) => {
        if (stream === 'stdout' && /^\d+$/.test(line)) remotePid = Number(line);
      },
    });
    // sshd is on loopback: the remote command is a process of this machine we can watch.
    const pid = await waitFor('the remote command to start', () => remotePid);
    const t0 = Date.now();
    abort.abort();
    await assert.rejects(p, CancelledError);
    assert.ok(Date.now() - t0 < 2000, `cancelled after ${Date.now() - t0} ms`);
    await waitFor('the remote command to be killed', () => !isAlive(pid), 10000);
    assert.ok(!existsSync(marker), 'the remote command did not run on');
  });

  it('a timeout kills the remote command and says so', async () => {
    await assert.rejects(
      t.exec(['sleep', '20'], { timeoutMs: 300 }),
      (err: unknown) => err instanceof OperationError && /timed out after 300 ms/.test(err.message),
    );
  });

  it('strips its pid line from stderr and keeps the rest', async () => {
    const r = await t.exec(['sh', '-c', 'echo out; echo err >&2']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
  });

  it('keeps host key checking on: an unknown host key is refused, never accepted', async () => {
    const cfg = path.join(tmp, 'other_config');
    const emptyKnown = path.join(tmp, 'empty_known_hosts');
    await fs.writeFile(emptyKnown, '');
    const base = await fs.readFile(sshd!.sshArgs[1], 'utf8');
    await fs.writeFile(
      cfg,
      base
        .replace(/UserKnownHostsFile .*/, `UserKnownHostsFile ${emptyKnown}`)
        .replace(/StrictHostKeyChecking .*/, 'StrictHostKeyChecking ask'),
    );
    const stranger = new SshTransport(sshd!.destination, { sshArgs: ['-F', cfg] });
    try {
      await assert.rejects(
        stranger.exec(['true']),
        (err: unknown) => err instanceof OperationError && err.step === 'ssh' && /Host key verification failed/.test(err.message),
      );
      assert.equal(await fs.readFile(emptyKnown, 'utf8'), '', 'the key was not added');
    } finally {
      await stranger.dispose();
    }
  });

  it('dispose closes the master and removes the private socket directory', async () => {
    const other = new SshTransport(sshd!.destination, { sshArgs: sshd!.sshArgs });
    await other.exec(['true']);
    const pid = await other.masterPid();
    assert.ok(pid);
    const dir = (other as unknown as { controlDir: string }).controlDir;
    assert.equal((await fs.stat(dir)).mode & 0o777, 0o700, 'socket dir is private');
    await other.dispose();
    assert.ok(!existsSync(dir));
    const deadline = Date.now() + 5000;
    while (isAlive(pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!isAlive(pid!), 'the master exited');
  });
});
