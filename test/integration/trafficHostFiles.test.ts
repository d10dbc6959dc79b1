import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { LocalHostFiles, RemoteHostFiles } from '../../src/core/exec/hostFiles';
import type { HostFiles } from '../../src/core/exec/hostFiles';

/**
 * The remote scripts (run here through the local transport, exactly as ssh would run them) and the
 * local fs implementation must behave alike, also on paths a shell would love to misread.
 */
for (const [name, make] of [
  ['local fs', () => new LocalHostFiles()],
  ['remote scripts', () => new RemoteHostFiles(new LocalTransport())],
] as Array<[string, () => HostFiles]>) {
  describe(`LB host files: ${name}`, () => {
    let dir: string;
    let files: HostFiles;
    beforeEach(async () => {
      // Spaces, quotes, $, backticks, a leading dash and glob characters in the folder name.
      dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'hostfiles-')), `-a b'c"$(x)\`y\`*?`);
      await fs.mkdir(dir);
      files = make();
    });
    afterEach(() => fs.rm(path.dirname(dir), { recursive: true, force: true }));

    it('reads, stages, swaps with .prev and restores, keeping the mode', async () => {
      const file = path.join(dir, 'up $stream.conf');
      assert.equal(await files.read(file), undefined);
      await fs.writeFile(file, 'old\n', { mode: 0o640 });
      await fs.chmod(file, 0o640);
      assert.equal(await files.read(file), 'old\n');
      await files.writeNew(file, 'new\n');
      assert.equal(await fs.readFile(`${file}.new`, 'utf8'), 'new\n');
      assert.equal((await fs.stat(`${file}.new`)).mode & 0o777, 0o640);
      assert.deepEqual(await files.swapIn(file), { hadPrevious: true });
      assert.equal(await fs.readFile(file, 'utf8'), 'new\n');
      assert.equal(await fs.readFile(`${file}.prev`, 'utf8'), 'old\n');
      assert.equal((await fs.stat(file)).mode & 0o777, 0o640);
      await files.restore(file, true);
      assert.equal(await fs.readFile(file, 'utf8'), 'old\n');
      await files.writeNew(file, 'x');
      await files.discardNew(file);
      await assert.rejects(fs.stat(`${file}.new`), /ENOENT/);
    });

    it('dates a lock by its heartbeat on the host’s clock, makes the parent, and beats only for its token', async () => {
      const lock = path.join(dir, 'backend dir', '.rollout.lock');
      assert.deepEqual(await files.createLock(lock, '{"token":"t1"}\n', { makeParent: true }), { created: true });
      const hostNow = Math.floor(Date.now() / 1000);
      assert.ok(Math.abs(Number(await fs.readFile(path.join(lock, 'heartbeat'), 'utf8')) - hostNow) <= 2, 'the host wrote its time');
      await fs.writeFile(path.join(lock, 'heartbeat'), `${hostNow - 11 * 60}\n`);
      const old = (await files.readLock(lock))!;
      assert.ok(old.ageMs >= 11 * 60000 && old.ageMs < 11 * 60000 + 5000, `age ${old.ageMs}`);
      assert.equal(old.heartbeat, new Date((hostNow - 11 * 60) * 1000).toISOString());
      await files.touchLock(lock, 'someone else');
      assert.ok((await files.readLock(lock))!.ageMs >= 11 * 60000, 'a wrong token does not beat');
      await files.touchLock(lock, 't1');
      assert.ok((await files.readLock(lock))!.ageMs < 5000, 'the holder’s heartbeat resets the age');
      // A heartbeat ahead of the host's clock (written by a skewed writer) reads as fresh, never negative.
      await fs.writeFile(path.join(lock, 'heartbeat'), `${hostNow + 3600}\n`);
      assert.equal((await files.readLock(lock))!.ageMs, 0);
      // Without a heartbeat file (a lock of an older version), the directory's time is used.
      await fs.rm(path.join(lock, 'heartbeat'));
      const t = new Date(Date.now() - 20 * 60000);
      await fs.utimes(lock, t, t);
      assert.ok((await files.readLock(lock))!.ageMs >= 19 * 60000);
      assert.equal(await files.removeLock(lock, 't1'), true);
    });

    it('creates a file where there was none and removes it on restore', async () => {
      const file = path.join(dir, 'fresh.conf');
      await files.writeNew(file, 'first\n');
      assert.deepEqual(await files.swapIn(file), { hadPrevious: false });
      assert.equal(await fs.readFile(file, 'utf8'), 'first\n');
      await files.restore(file, false);
      await assert.rejects(fs.stat(file), /ENOENT/);
    });

    it('locks with mkdir, reports the owner, and removes only with the right token', async () => {
      const lock = path.join(dir, 'f.conf.lock');
      assert.deepEqual(await files.createLock(lock, '{"token":"t1","owner":"alice"}\n'), { created: true });
      const again = await files.createLock(lock, '{"token":"t2"}\n');
      assert.equal(again.created, false);
      assert.match((again as { owner: string }).owner, /"owner":"alice"/);
      assert.ok((again as { ageMs: number }).ageMs < 5000);
      assert.match((await files.readLock(lock))!.owner, /alice/);
      assert.equal(await files.removeLock(lock, 't2'), false);
      assert.ok(await files.readLock(lock), 'a wrong token leaves the lock in place');
      await files.touchLock(lock);
      assert.equal(await files.removeLock(lock, 't1'), true);
      assert.equal(await files.readLock(lock), undefined);
      assert.equal(await files.removeLock(lock, undefined), false);
      assert.deepEqual(
        (await fs.readdir(dir)).filter((n) => n.includes('.lock')),
        [],
        'nothing left beside it',
      );
    });
  });
}
