import * as assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { CancelledError, OperationError } from '../../src/core/errors';
import { ProcessError, run } from '../../src/core/exec/process';
import { isAlive as alive } from '../../src/core/sandbox/phpServer';
import { waitFor } from '../helpers/wait';

describe('run (processes)', () => {
  it('passes arguments as an array, never through a shell', async () => {
    const r = await run('printf', ['%s|', 'a b', '$(echo no)', '*']);
    assert.equal(r.stdout, 'a b|$(echo no)|*|');
    assert.equal(r.code, 0);
  });

  it('keeps output exact (trailing newlines, CR) and streams lines, the last one without a newline', async () => {
    const lines: string[] = [];
    const r = await run('sh', ['-c', 'printf "one\\r\\ntwo\\n\\nthree"; printf "err\\n" >&2'], {
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    assert.equal(r.stdout, 'one\r\ntwo\n\nthree');
    assert.equal(r.stderr, 'err\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('stdout')),
      ['stdout:one', 'stdout:two', 'stdout:', 'stdout:three'],
    );
    assert.deepEqual(
      lines.filter((l) => l.startsWith('stderr')),
      ['stderr:err'],
    );
  });

  it('adds env to the environment and runs in cwd', async () => {
    const r = await run('sh', ['-c', 'echo "$FOO $PATH_SET"; pwd'], {
      env: { FOO: 'bar', PATH_SET: process.env.PATH ? 'yes' : 'no' },
      cwd: '/',
    });
    assert.equal(r.stdout, 'bar yes\n/\n');
  });

  it('writes string, Buffer and stream input to stdin; no input reads as empty', async () => {
    assert.equal((await run('cat', [], { input: 'text' })).stdout, 'text');
    assert.equal((await run('cat', [], { input: Buffer.from('buf') })).stdout, 'buf');
    assert.equal((await run('cat', [], { input: Readable.from([Buffer.from('str'), Buffer.from('eam')]) })).stdout, 'stream');
    assert.equal((await run('cat', [])).stdout, '');
    // A process that exits without reading its input is not an error.
    assert.equal((await run('true', [], { input: Buffer.alloc(4 * 1024 * 1024) })).code, 0);
  });

  it('fails with the output on a non-zero exit, or returns it with allowFailure', async () => {
    await assert.rejects(run('sh', ['-c', 'echo boom >&2; exit 3']), (err: unknown) => {
      assert.ok(err instanceof ProcessError);
      assert.equal(err.result.code, 3);
      assert.match(err.message, /exited with 3: boom/);
      return true;
    });
    const r = await run('sh', ['-c', 'exit 4'], { allowFailure: true });
    assert.equal(r.code, 4);
  });

  it('says how to fix a missing program', async () => {
    await assert.rejects(run('no-such-program-xyz', []), (err: unknown) => {
      assert.ok(err instanceof OperationError && !(err instanceof ProcessError));
      assert.match(err.message, /Cannot start no-such-program-xyz: .*ENOENT.*is no-such-program-xyz installed and on PATH\?/);
      return true;
    });
  });

  it('caps each stream at maxBuffer and lets the process run to its end', async () => {
    const r = await run('sh', ['-c', 'head -c 100000 /dev/zero | tr "\\0" "x"; echo; echo done >&2'], { maxBuffer: 1000 });
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.stderr, 'done\n');
    assert.equal(r.code, 0);
  });

  it('times out with "timed out" and cancels with CancelledError', async () => {
    await assert.rejects(
      run('sleep', ['30'], { timeoutMs: 200 }),
      (err: unknown) => err instanceof ProcessError && /sleep timed out after 200 ms/.test(err.message),
    );
    const aborted = new AbortController();
    aborted.abort();
    await assert.rejects(run('sleep', ['30'], { signal: aborted.signal }), CancelledError);
    const ac = new AbortController();
    const started = Date.now();
    const p = run('sleep', ['30'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, CancelledError);
    assert.ok(Date.now() - started < 5000);
  });

  for (const how of ['cancel', 'timeout'] as const) {
    it(`stops the whole process group on ${how}: a hook's grandchildren die too`, async () => {
      const ac = new AbortController();
      let grandchild: number | undefined;
      // The grandchild ignores nothing; it would outlive its parent if only the parent were signalled.
      const p = run('sh', ['-c', 'sleep 60 & echo "$!"; sh -c "sleep 61" & wait'], {
        signal: ac.signal,
        timeoutMs: how === 'timeout' ? 500 : undefined,
        onLine: (line, stream) => {
          if (stream === 'stdout' && /^\d+$/.test(line)) grandchild = Number(line);
        },
      });
      const pid = await waitFor('the grandchild pid', () => grandchild);
      assert.ok(alive(pid));
      if (how === 'cancel') ac.abort();
      await assert.rejects(p, how === 'cancel' ? CancelledError : /timed out/);
      await waitFor('the grandchild to die', () => !alive(pid), 5000);
    });
  }

  it('leaves a daemon started by a process that exits normally alone', async () => {
    const r = await run('sh', ['-c', 'sleep 30 >/dev/null 2>&1 </dev/null & echo "$!"']);
    const pid = Number(r.stdout.trim());
    try {
      assert.ok(alive(pid), 'a normal exit does not kill what the process started');
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});
