import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeInputsHash, hashProjectFiles } from '../../src/core/phar/inputsHash';
import type { BuildInputs } from '../../src/core/phar/inputsHash';

const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');

const inputs: BuildInputs = {
  app: 'shop',
  version: '1.2.0',
  commit: 'a'.repeat(40),
  commitTime: '2024-01-02T03:04:05.000Z',
  dirty: false,
  composerArgs: ['install', '--no-dev'],
  builder: 'builtin',
  compiler: 'c'.repeat(64),
  files: [
    { path: 'composer.json', sha256: '1'.repeat(64) },
    { path: 'src/A.php', sha256: '2'.repeat(64) },
  ],
};

describe('inputs hash', () => {
  it('is a stable sha256 that ignores the order of files', () => {
    const h = computeInputsHash(inputs);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(computeInputsHash({ ...inputs, files: [...inputs.files].reverse() }), h);
    assert.equal(computeInputsHash(JSON.parse(JSON.stringify(inputs)) as BuildInputs), h);
  });

  it('changes with every input that decides the output', () => {
    const h = computeInputsHash(inputs);
    const variants: Array<Partial<BuildInputs>> = [
      { app: 'shop2' },
      { version: '1.2.1' },
      { commit: 'b'.repeat(40) },
      { commitTime: '2024-01-02T03:04:06.000Z' },
      { dirty: true },
      { composerArgs: ['install'] },
      { composerArgs: ['--no-dev', 'install'] },
      { builder: 'box:abc' },
      { compiler: 'd'.repeat(64) },
      { files: [inputs.files[0]] },
      { files: [inputs.files[0], { path: 'src/A.php', sha256: '3'.repeat(64) }] },
      { files: [inputs.files[0], { path: 'src/B.php', sha256: '2'.repeat(64) }] },
    ];
    const seen = new Set([h]);
    for (const v of variants) {
      const other = computeInputsHash({ ...inputs, ...v });
      assert.ok(!seen.has(other), `variant ${JSON.stringify(v)} gave a hash already seen`);
      seen.add(other);
    }
  });

  describe('project files', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'inputs-hash-'));
      for (const [rel, text] of Object.entries({
        'composer.json': '{}',
        'src/A.php': '<?php',
        'src/.hidden': 'x',
        '.git/HEAD': 'ref',
        'lib/.git/HEAD': 'nested repo',
        '.rollout/artifacts/x/manifest.json': '{}',
        'vendor/autoload.php': '<?php',
        'build/app.phar': 'old output',
        'build/keep.txt': 'k',
      })) {
        await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
        await fs.writeFile(path.join(dir, rel), text);
      }
    });
    afterEach(() => fs.rm(dir, { recursive: true, force: true }));

    it('lists sources sorted, without .git, .rollout, vendor and the output phar', async () => {
      const files = await hashProjectFiles(dir, { exclude: [path.join(dir, 'build/app.phar')] });
      assert.deepEqual(
        files.map((f) => f.path),
        ['build/keep.txt', 'composer.json', 'src/.hidden', 'src/A.php'],
      );
      assert.equal(files[1].sha256, '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'); // sha256("{}")
    });

    it('gives the same hash for a copy elsewhere and a different one after an edit', async () => {
      const before = computeInputsHash({ ...inputs, files: await hashProjectFiles(dir) });
      const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'inputs-hash-copy-'));
      try {
        await fs.cp(dir, copy, { recursive: true });
        assert.equal(computeInputsHash({ ...inputs, files: await hashProjectFiles(copy) }), before);
        await fs.writeFile(path.join(copy, '.rollout', 'history.jsonl'), '{}\n');
        await fs.writeFile(path.join(copy, 'vendor', 'new.php'), '<?php');
        assert.equal(computeInputsHash({ ...inputs, files: await hashProjectFiles(copy) }), before, 'build outputs must not count');
        await fs.writeFile(path.join(copy, 'src', 'A.php'), '<?php // edited');
        assert.notEqual(computeInputsHash({ ...inputs, files: await hashProjectFiles(copy) }), before);
      } finally {
        await fs.rm(copy, { recursive: true, force: true });
      }
    });

    describe('stat cache', () => {
      const cacheOf = () => path.join(dir, '.rollout', 'file-hashes.json');
      const hashed = async () => {
        let n = -1;
        const files = await hashProjectFiles(dir, { cacheFile: cacheOf(), onStats: (s) => (n = s.hashed) });
        return { files, n };
      };
      // The cache counts as written after every file (no racy entries) once its mtime is in the future.
      const ageCache = async (seconds = 60) => {
        const t = Date.now() / 1000 + seconds;
        await fs.utimes(cacheOf(), t, t);
      };

      it('reads only files whose stat changed, and answers exactly as a full hash', async () => {
        const first = await hashed();
        assert.equal(first.n, 5);
        assert.deepEqual(first.files, await hashProjectFiles(dir));
        await ageCache();
        const second = await hashed();
        assert.equal(second.n, 0, 'unchanged files are not read again');
        assert.deepEqual(second.files, first.files);
        await fs.writeFile(path.join(dir, 'src', 'A.php'), '<?php // longer');
        await fs.writeFile(path.join(dir, 'src', 'B.php'), 'new');
        await fs.rm(path.join(dir, 'src', '.hidden'));
        await ageCache();
        const third = await hashed();
        assert.equal(third.n, 2);
        assert.deepEqual(third.files, await hashProjectFiles(dir));
      });

      it('detects a same-size edit whose mtime was put back (ctime changes)', async () => {
        const file = path.join(dir, 'src', 'A.php');
        const before = await fs.stat(file);
        await hashed();
        await ageCache();
        await fs.writeFile(file, '<?PHP');
        await fs.utimes(file, before.atime, before.mtime);
        await ageCache();
        const { files, n } = await hashed();
        assert.equal(n, 1);
        assert.equal(files.find((f) => f.path === 'src/A.php')?.sha256, sha256Of('<?PHP'));
      });

      it("re-hashes a file edited in the cache write's own timestamp tick (git's racy case)", async () => {
        const file = path.join(dir, 'src', 'A.php');
        await hashed();
        // An edit in the same tick keeps every stat field: simulate it by recording the edited file's stat
        // with the old digest, and giving the cache file the file's own mtime.
        await fs.writeFile(file, '<?PHP');
        const st = await fs.lstat(file, { bigint: true });
        const cache = JSON.parse(await fs.readFile(cacheOf(), 'utf8')) as { files: Record<string, string[]> };
        const old = cache.files['src/A.php'][6];
        cache.files['src/A.php'] = [st.size, st.mtimeNs, st.ctimeNs, st.ino, st.dev, st.mode].map(String).concat(old);
        await fs.writeFile(cacheOf(), JSON.stringify(cache));
        const sameTick = new Date(Number(st.mtimeNs / 1000000n));
        await fs.utimes(cacheOf(), sameTick, sameTick);
        const racy = await hashed();
        assert.equal(racy.files.find((f) => f.path === 'src/A.php')?.sha256, sha256Of('<?PHP'), 'the racy entry must be re-read');
        // Control: were the cache clearly newer than the edit, its (wrong) record would be trusted.
        await fs.writeFile(cacheOf(), JSON.stringify(cache));
        await ageCache();
        const trusted = await hashed();
        assert.equal(trusted.files.find((f) => f.path === 'src/A.php')?.sha256, old);
      });

      it("sees an edit of a symlinked file outside the project (the link's own stat does not change), and never caches the link", async () => {
        const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'inputs-hash-outside-'));
        try {
          const target = path.join(outside, 'Shared.php');
          await fs.writeFile(target, '<?php // one');
          await fs.symlink(target, path.join(dir, 'src', 'Shared.php'));
          await fs.symlink(outside, path.join(dir, 'src', 'folder-link'));
          await fs.symlink(path.join(outside, 'missing'), path.join(dir, 'src', 'dangling'));
          const first = await hashed();
          await ageCache();
          const cacheBefore = await fs.readFile(cacheOf(), 'utf8');
          assert.equal(Object.keys((JSON.parse(cacheBefore) as { files: object }).files).length, 5, 'links are not cached');
          await fs.writeFile(target, '<?php // two');
          const second = await hashed();
          assert.equal(second.n, 3, 'only the three links are read again');
          assert.deepEqual(second.files, await hashProjectFiles(dir));
          const digest = (r: { files: Array<{ path: string; sha256: string }> }, p: string) => r.files.find((f) => f.path === p)?.sha256;
          assert.notEqual(digest(second, 'src/Shared.php'), digest(first, 'src/Shared.php'));
          assert.equal(digest(second, 'src/folder-link'), sha256Of(`symlink:${outside}`));
          assert.equal(digest(second, 'src/dangling'), sha256Of(`symlink:${path.join(outside, 'missing')}`));
          assert.equal(await fs.readFile(cacheOf(), 'utf8'), cacheBefore, 'links alone do not rewrite the cache');
        } finally {
          await fs.rm(outside, { recursive: true, force: true });
        }
      });

      it('ignores a corrupt or foreign cache file', async () => {
        await fs.mkdir(path.dirname(cacheOf()), { recursive: true });
        for (const text of ['{"format":1,"files":{"src/A.php":"x"}', '{"format":1,"files":{"src/A.php":[1,2]}}', '[]', '{"format":99}']) {
          await fs.writeFile(cacheOf(), text);
          await ageCache();
          const { files, n } = await hashed();
          assert.equal(n, 5);
          assert.deepEqual(files, await hashProjectFiles(dir));
        }
      });
    });
  });
});
