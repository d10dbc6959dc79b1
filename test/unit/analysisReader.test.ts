import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessLogReader, LocalLogSource, planReads, readLoadBalancers } from '../../src/core/analysis/logReader';
import type { LogSource } from '../../src/core/analysis/logReader';
import { logLine } from './analysisAccessLog.test';

const line = (i: number) => `${logLine({ uri: `/r/${i}` })}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const uris = (r: { entries: Array<{ uri: string }> }) => r.entries.map((e) => Number(e.uri.slice(3)));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/**
 * Reader scenarios on real files; `sourceFor` lets the integration test run the same scenarios
 * through the remote script (LocalTransport, and ssh).
 */
export function readerScenarios(sourceFor: (file: string) => LogSource): void {
  let dir: string;
  let log: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-reader-'));
    log = path.join(dir, 'access.log');
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('reads only new bytes, keeps a partial last line for the next read', async () => {
    await fs.writeFile(log, lines(0, 3));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start' });
    assert.deepEqual(uris(await r.read()), [0, 1, 2]);
    const third = line(3);
    await fs.appendFile(log, third.slice(0, 40));
    assert.deepEqual(uris(await r.read()), []);
    await fs.appendFile(log, third.slice(40) + line(4));
    assert.deepEqual(uris(await r.read()), [3, 4]);
    assert.deepEqual(uris(await r.read()), []);
    assert.equal(r.cursor.main?.offset, (await fs.stat(log)).size);
  });

  it('starts at the end by default, and a file that appears later from its start', async () => {
    await fs.writeFile(log, lines(0, 5));
    const r = new AccessLogReader(sourceFor(log));
    assert.deepEqual(uris(await r.read()), []);
    await fs.appendFile(log, lines(5, 7));
    assert.deepEqual(uris(await r.read()), [5, 6]);
    const empty = new AccessLogReader(sourceFor(path.join(dir, 'later.log')));
    assert.deepEqual(uris(await empty.read()), []);
    await fs.writeFile(path.join(dir, 'later.log'), lines(0, 2));
    assert.deepEqual(uris(await empty.read()), [0, 1]);
  });

  it('survives rename rotation while nginx still writes the old file, then reopens', async () => {
    await fs.writeFile(log, lines(0, 3));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start' });
    const seen = uris(await r.read());
    await fs.appendFile(log, lines(3, 5)); // not read yet
    await fs.rename(log, `${log}.1`);
    await fs.writeFile(log, ''); // logrotate's `create`
    await fs.appendFile(`${log}.1`, lines(5, 6)); // a worker not yet reopened
    seen.push(...uris(await r.read()));
    await fs.appendFile(log, lines(6, 9)); // after `nginx -s reopen`
    seen.push(...uris(await r.read()));
    seen.push(...uris(await r.read()));
    assert.deepEqual(seen, range(0, 9));
    assert.equal(r.cursor.drain, undefined, 'the finished old file is let go');
    await fs.rename(`${log}.1`, `${log}.2`);
    await fs.rename(log, `${log}.1`);
    await fs.writeFile(log, lines(9, 10));
    const after = await r.read();
    assert.deepEqual(uris(after), [9]);
    assert.equal(after.lost, 0);
  });

  it('survives copytruncate: continues in the copy from its offset', async () => {
    await fs.writeFile(log, lines(0, 2));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start' });
    const seen = uris(await r.read());
    await fs.appendFile(log, lines(2, 4));
    await fs.copyFile(log, `${log}.1`);
    await fs.truncate(log, 0);
    await fs.appendFile(log, lines(4, 5));
    const res = await r.read();
    seen.push(...uris(res));
    assert.equal(res.lost, 0);
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      range(0, 5),
    );
  });

  it('refuses a .1 that is not the copy of what it read, and counts the loss', async () => {
    await fs.writeFile(log, lines(0, 3));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start' });
    await r.read();
    await fs.writeFile(`${log}.1`, lines(100, 110)); // an unrelated older file
    await fs.writeFile(log, lines(3, 4)); // truncated and rewritten in place
    const res = await r.read();
    assert.deepEqual(uris(res), [3]);
    assert.equal(res.lost, 1);
  });

  it('counts a deleted log as a loss and reads the new one from 0', async () => {
    await fs.writeFile(log, lines(0, 1));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start' });
    await r.read();
    await fs.rm(log);
    await fs.writeFile(log, lines(1, 3)); // often with the same inode
    const res = await r.readAll();
    assert.deepEqual(uris(res), [1, 2]);
    assert.equal(res.lost, 1);
  });

  it('reads in bounded chunks, counts foreign lines, skips an overlong line', async () => {
    const foreign = '127.0.0.1 - - [02/Dec/2026] "GET / HTTP/1.1" 200\n';
    await fs.writeFile(log, lines(0, 100) + foreign + 'x'.repeat(9000) + '\n' + lines(100, 200));
    const r = new AccessLogReader(sourceFor(log), { startAt: 'start', chunkBytes: 4096 });
    const first = await r.read();
    assert.ok(first.more && first.bytes <= 4096);
    const all = await r.readAll();
    assert.deepEqual([...uris(first), ...uris(all)], range(0, 200));
    assert.equal(first.unparsable + all.unparsable, 1 + 3); // the foreign line; the 9000-byte line as chunks
  });
}

describe('analysis log reader (local files)', () => {
  readerScenarios((file) => new LocalLogSource(file));

  it('plans the same reads the remote script performs', () => {
    const cursor = { started: true, main: { inode: '7', offset: 100, tail: Buffer.from('abc\n').toString('base64') } };
    assert.deepEqual(planReads(cursor, { inode: '7', size: 150 }, undefined, 4096, 'end'), [
      { file: 'cur', start: 96, length: 54, role: 'main' },
    ]);
    assert.deepEqual(planReads(cursor, { inode: '7', size: 20 }, { inode: '8', size: 130 }, 4096, 'end'), [
      { file: 'old', start: 96, length: 34, role: 'copy' },
      { file: 'cur', start: 0, length: 20, role: 'main' },
    ]);
    assert.deepEqual(planReads(cursor, { inode: '9', size: 5000 }, { inode: '7', size: 120 }, 4096, 'end'), [
      { file: 'old', start: 100, length: 20, role: 'rotated' },
      { file: 'cur', start: 0, length: 4076, role: 'main' },
    ]);
  });

  it('merges several LBs in time order, tagged with the LB', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-merge-'));
    try {
      await fs.writeFile(
        path.join(dir, 'a.log'),
        `${logLine({ msec: '100.000', uri: '/a1' })}\n${logLine({ msec: '300.000', uri: '/a2' })}\n`,
      );
      await fs.writeFile(path.join(dir, 'b.log'), `${logLine({ msec: '200.000', uri: '/b1' })}\nnot a line\n`);
      const readers = new Map([
        ['edge-a', new AccessLogReader(new LocalLogSource(path.join(dir, 'a.log')), { startAt: 'start' })],
        ['edge-b', new AccessLogReader(new LocalLogSource(path.join(dir, 'b.log')), { startAt: 'start' })],
      ]);
      const m = await readLoadBalancers(readers);
      assert.deepEqual(
        m.entries.map((e) => `${e.lb}${e.uri}`),
        ['edge-a/a1', 'edge-b/b1', 'edge-a/a2'],
      );
      assert.equal(m.perLb['edge-b'].unparsable, 1);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
