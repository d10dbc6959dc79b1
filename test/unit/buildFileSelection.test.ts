import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateStub, phpString } from '../../src/core/phar/builtinCompiler';
import { selectFiles } from '../../src/core/phar/fileSelection';
import { parseBoxConfig } from '../../src/core/config/boxConfig';

describe('files selected for the phar', () => {
  let dir: string;
  const config = (box: object) => parseBoxConfig(path.join(dir, 'box.json'), JSON.stringify(box), { projectDir: dir, strict: true });
  const select = async (box: object, pending?: string[]) => {
    const { entries, problems } = await selectFiles(config(box), { pending });
    return { locals: entries.map((e) => (e.binary ? `${e.local} (bin)` : e.local)), problems };
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'file-selection-'));
    for (const rel of [
      'index.php',
      'composer.json',
      'composer.lock',
      'README.md',
      '.env',
      'src/App.php',
      'src/Dev/Fixture.php',
      'src/.cache/x',
      'src/tests/AppTest.php',
      'templates/page.html',
      'templates/page.txt',
      'public/logo.png',
      'vendor/autoload.php',
      'vendor/composer/installed.json',
      'vendor/acme/lib/src/Lib.php',
      'vendor/acme/lib/tests/LibTest.php',
      'vendor/dev/tool/Tool.php',
      'build/app.phar',
      '.rollout/artifacts/a/manifest.json',
      '.git/HEAD',
    ]) {
      await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await fs.writeFile(
        path.join(dir, rel),
        rel.endsWith('installed.json') ? JSON.stringify({ packages: [], 'dev-package-names': ['dev/tool'] }) : rel,
      );
    }
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('takes every file (no dot files, composer files, dev packages or the output) without directories/finder', async () => {
    const { locals, problems } = await select({ output: 'build/app.phar' });
    assert.deepEqual(problems, []);
    assert.deepEqual(locals, [
      'README.md',
      'index.php',
      'public/logo.png',
      'src/App.php',
      'src/Dev/Fixture.php',
      'src/tests/AppTest.php',
      'templates/page.html',
      'templates/page.txt',
      'vendor/acme/lib/src/Lib.php',
      'vendor/acme/lib/tests/LibTest.php',
      'vendor/autoload.php',
    ]);
  });

  it('combines directories, finder, files(-bin) and blacklist, sorted by path', async () => {
    const { locals, problems } = await select({
      directories: ['src', 'vendor'],
      finder: [
        { in: 'templates', name: '*.html' },
        { in: 'vendor', exclude: 'tests', name: '*.php' },
      ],
      'files-bin': ['public/logo.png'],
      files: ['composer.json'],
      blacklist: ['src/Dev'],
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(locals, [
      'index.php',
      'public/logo.png (bin)',
      'src/App.php',
      'src/tests/AppTest.php',
      'templates/page.html',
      'vendor/acme/lib/src/Lib.php',
      'vendor/acme/lib/tests/LibTest.php',
      'vendor/autoload.php',
    ]);
  });

  it('applies finder exclude, notName, path and notPath', async () => {
    const { locals } = await select({
      main: false,
      finder: [{ in: ['src', 'vendor'], exclude: ['tests', 'acme/lib/src'], notName: '/^Fix/', notPath: 'dev/' }],
    });
    assert.deepEqual(locals, ['src/App.php', 'vendor/autoload.php']);
    const byPath = await select({ main: false, finder: [{ in: '.', path: '/^src\\/(Dev|tests)\\//' }] });
    assert.deepEqual(byPath.locals, ['src/Dev/Fixture.php', 'src/tests/AppTest.php']);
  });

  it('keeps composer files when exclude-composer-files is false and dev packages when exclude-dev-files is false', async () => {
    const { locals } = await select({
      main: false,
      directories: ['vendor'],
      files: ['composer.json'],
      'exclude-composer-files': false,
      'exclude-dev-files': false,
    });
    assert.ok(locals.includes('composer.json'));
    assert.ok(locals.includes('vendor/composer/installed.json'));
    assert.ok(locals.includes('vendor/dev/tool/Tool.php'));
  });

  it('reports missing folders, files, main and stub at their box.json entries, except under pending folders', async () => {
    await fs.rm(path.join(dir, 'vendor'), { recursive: true });
    const { problems } = await select(
      {
        main: 'bin/app.php',
        directories: ['src', 'lib', 'vendor'],
        files: ['NOTICE', 'vendor/x.php'],
        stub: 'stub.php',
        finder: [{ in: 'assets' }],
      },
      ['vendor'],
    );
    assert.deepEqual(
      problems.map((p) => p.at),
      [['directories', 1], ['finder', 0, 'in'], ['files', 0], ['main'], ['stub']],
    );
  });
});

describe('generated stub', () => {
  it('maps the alias and requires main, like box', () => {
    assert.equal(
      generateStub({ alias: 'shop.phar', main: 'public/index.php', shebang: '#!/usr/bin/env php', banner: 'Acme\n\nMIT', intercept: true }),
      [
        '#!/usr/bin/env php',
        '<?php',
        '',
        '/*',
        ' * Acme',
        ' *',
        ' * MIT',
        ' */',
        '',
        "Phar::mapPhar('shop.phar');",
        '',
        'Phar::interceptFileFuncs();',
        '',
        "require 'phar://shop.phar/public/index.php';",
        '',
        '__HALT_COMPILER(); ?>',
        '',
      ].join('\n'),
    );
  });

  it('quotes PHP strings safely', () => {
    assert.equal(phpString("it's a \\ test"), "'it\\'s a \\\\ test'");
  });
});
