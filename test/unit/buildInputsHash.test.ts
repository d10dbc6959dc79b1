import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeInputsHash, hashProjectFiles } from '../../src/core/phar/inputsHash';
import type { BuildInputs } from '../../src/core/phar/inputsHash';

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
  });
});
