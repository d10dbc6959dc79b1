import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { run } from '../../src/core/exec/process';

const root = path.resolve(__dirname, '..', '..', '..');

describe('package (.vsix)', function () {
  this.timeout(240000);

  it('is under 1 MB and holds only what runs: the bundles (timeline webview with uPlot and its CSS), the PHP compiler and fpm reset script, media and the schema', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phar-rollout-vsix-'));
    try {
      const vsix = path.join(tmp, 'phar-rollout.vsix');
      await run(process.execPath, ['esbuild.mjs', '--production'], { cwd: root });
      await run(
        process.execPath,
        [
          path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce'),
          'package',
          '--no-dependencies',
          '--no-rewrite-relative-links',
          '-o',
          vsix,
        ],
        { cwd: root },
      );
      const { size } = await fs.stat(vsix);
      assert.ok(size < 1024 * 1024, `vsix is ${size} bytes`);
      const listing = await run('unzip', ['-Z1', vsix]);
      const files = listing.stdout
        .trim()
        .split('\n')
        .filter((f) => f.startsWith('extension/'))
        .map((f) => f.slice('extension/'.length))
        .sort();
      const allowed =
        /^(dist\/(extension|cli)\.js|dist\/webview\/timeline\.(js|css)|php\/(compile|fpmReset)\.php|media\/[^/]+|dist\/rollout\.editor\.schema\.json|package\.json|readme\.md|changelog\.md|LICENSE\.txt)$/;
      assert.deepEqual(
        files.filter((f) => !allowed.test(f)),
        [],
        'nothing else is shipped',
      );
      for (const needed of [
        'dist/extension.js',
        'dist/cli.js',
        'dist/webview/timeline.js',
        'dist/webview/timeline.css',
        'php/compile.php',
        'dist/rollout.editor.schema.json',
        'media/rollout.svg',
      ])
        assert.ok(files.includes(needed), `${needed} is shipped`);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
      // Leave a development bundle (with source maps) behind for the layers that follow.
      await run(process.execPath, ['esbuild.mjs'], { cwd: root });
    }
  });
});
