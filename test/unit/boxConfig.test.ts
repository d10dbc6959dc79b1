import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { defaultBoxConfig, parseBoxConfig } from '../../src/core/config/boxConfig';
import { globToRegex, isRegex, nameMatcher, pathMatcher, toJsRegex } from '../../src/core/config/finderPattern';
import { InputErrors } from '../../src/core/errors';
import type { InputError } from '../../src/core/errors';

const projectDir = path.resolve('/tmp/project');
const file = path.join(projectDir, 'box.json');

function errorsOf(text: string, strict = true): InputError[] {
  try {
    parseBoxConfig(file, text, { projectDir, strict });
  } catch (err) {
    assert.ok(err instanceof InputErrors, `expected InputErrors, got ${String(err)}`);
    return err.errors;
  }
  assert.fail('expected the box.json to be refused');
}

describe('box.json (built-in compiler subset)', () => {
  it('refuses an unsupported key by name, at the key, with the install-box hint', () => {
    const text = ['{', '  "main": "index.php",', '  "compactors": ["KevinGH\\\\Box\\\\Compactor\\\\Php"]', '}'].join('\n');
    const [err, ...rest] = errorsOf(text);
    assert.equal(rest.length, 0);
    assert.deepEqual([err.location?.file, err.location?.line, err.location?.column], [file, 3, 3]);
    assert.equal(
      err.format(),
      `${file}:3:3: box.json key "compactors" is not supported by the built-in compiler — remove it, or install box (vendor/bin/box, PATH, or the pharRollout.boxPath setting)`,
    );
  });

  it('lists every unsupported key, including typos, each at its own line', () => {
    const text = '{\n  "key": "private.pem",\n  "php-scoper": "scoper.inc.php",\n  "directoris": ["src"]\n}';
    const errs = errorsOf(text);
    assert.deepEqual(
      errs.map((e) => [e.location?.line, e.location?.column, /"([^"]+)"/.exec(e.message)?.[1]]),
      [
        [2, 3, 'key'],
        [3, 3, 'php-scoper'],
        [4, 3, 'directoris'],
      ],
    );
  });

  it('lets box itself handle keys the built-in compiler does not know (non-strict)', () => {
    const config = parseBoxConfig(file, '{"compactors": ["X"], "output": "dist/app.phar"}', { projectDir, strict: false });
    assert.equal(config.output, path.join(projectDir, 'dist/app.phar'));
  });

  it('locates values of the wrong type at the value', () => {
    const text = [
      '{',
      '  "directories": "src",',
      '  "compression": "BZ2",',
      '  "chmod": "rwx",',
      '  "main": 3,',
      '  "exclude-dev-files": "yes"',
      '}',
    ].join('\n');
    const errs = errorsOf(text);
    const at = (needle: string) => {
      const e = errs.find((x) => x.message.includes(needle));
      assert.ok(e, `no error mentioning ${needle}: ${errs.map((x) => x.message).join(' | ')}`);
      return [e.location?.line, e.location?.column];
    };
    assert.deepEqual(at('"directories" must be a list of strings'), [2, 18]);
    assert.deepEqual(at('"BZ2" is not supported'), [3, 18]);
    assert.deepEqual(at('"chmod" must be an octal mode'), [4, 12]);
    assert.deepEqual(at('"main" must be a path'), [5, 11]);
    assert.deepEqual(at('"exclude-dev-files" must be true or false'), [6, 24]);
  });

  it('refuses an unsupported finder method by name and checks finder patterns', () => {
    const text = '{\n  "finder": [\n    { "in": "src", "depth": "< 2" },\n    { "in": "lib", "name": "/[a-/" }\n  ]\n}';
    const errs = errorsOf(text);
    assert.equal(errs.length, 2);
    assert.match(errs[0].message, /finder method "depth" is not supported/);
    assert.deepEqual([errs[0].location?.line, errs[0].location?.column], [3, 20]);
    assert.match(errs[1].message, /Finder name pattern "\/\[a-\/": invalid regex/);
    assert.deepEqual([errs[1].location?.line, errs[1].location?.column], [4, 28]);
  });

  it('requires "in" in each finder entry', () => {
    const errs = errorsOf('{"finder": [{"name": "*.php"}]}');
    assert.match(errs[0].message, /needs "in"/);
  });

  it('reports syntax errors with their position', () => {
    const errs = errorsOf('{\n  "main": "index.php"\n  "output": "x.phar"\n}');
    assert.match(errs[0].message, /JSON syntax error/);
    assert.equal(errs[0].location?.line, 3);
  });

  it('reads the supported keys and resolves paths against the base path', () => {
    const config = parseBoxConfig(
      file,
      JSON.stringify({
        'base-path': 'app',
        main: 'bin/run.php',
        directories: ['src', 'vendor'],
        'files-bin': ['public/logo.png'],
        finder: [{ in: ['lib', 'etc'], name: '*.php', exclude: 'tests/', notName: '/Test\\.php$/' }],
        blacklist: ['src/Dev'],
        compression: 'gz',
        algorithm: 'SHA512',
        alias: 'run.phar',
        banner: ['Acme', '', 'MIT'],
        shebang: false,
        stub: true,
        intercept: true,
        chmod: '0750',
        metadata: { team: 'acme' },
        'git-commit-short': 'rev',
        datetime: 'built',
        'datetime-format': 'Y',
        'replacement-sigil': '%',
        replacements: { name: 'Acme', n: 3 },
        'check-requirements': false,
        'dump-autoload': true,
        $schema: 'x',
      }),
      { projectDir, strict: true },
    );
    assert.equal(config.basePath, path.join(projectDir, 'app'));
    assert.equal(config.main, 'bin/run.php');
    assert.equal(config.output, path.join(projectDir, 'app/bin/run.phar'));
    assert.deepEqual(config.directories, ['src', 'vendor']);
    assert.deepEqual(config.filesBin, ['public/logo.png']);
    assert.equal(config.autodiscovery, false);
    assert.deepEqual(config.finders[0].in, ['lib', 'etc']);
    assert.deepEqual(config.finders[0].exclude, ['tests']);
    assert.equal(config.compression, 'GZ');
    assert.equal(config.algorithm, 'SHA512');
    assert.equal(config.banner, 'Acme\n\nMIT');
    assert.equal(config.shebang, false);
    assert.equal(config.intercept, true);
    assert.equal(config.chmod, 0o750);
    assert.deepEqual(config.placeholders.replacements, { name: 'Acme', n: '3' });
    assert.equal(config.placeholders.sigil, '%');
    assert.equal(config.placeholders.gitCommitShort, 'rev');
    assert.deepEqual(config.locate(['main']), { file, line: 1, column: 27, length: 13 });
  });

  it('treats null as the default, as box does', () => {
    const config = parseBoxConfig(file, '{"main": null, "compression": null, "directories": null, "stub": null}', {
      projectDir,
      strict: true,
    });
    assert.equal(config.main, 'index.php');
    assert.equal(config.compression, 'NONE');
    assert.equal(config.autodiscovery, true);
    assert.equal(config.stub, true);
  });

  it('refuses paths outside the base path', () => {
    const errs = errorsOf('{"directories": ["../other"]}');
    assert.match(errs[0].message, /outside the base path/);
  });

  it('has box defaults without box.json: index.php, index.phar, autodiscovery, no compression, SHA256', () => {
    const config = defaultBoxConfig(projectDir);
    assert.equal(config.main, 'index.php');
    assert.equal(config.output, path.join(projectDir, 'index.phar'));
    assert.equal(config.autodiscovery, true);
    assert.equal(config.compression, 'NONE');
    assert.equal(config.algorithm, 'SHA256');
    assert.equal(config.shebang, '#!/usr/bin/env php');
    assert.equal(defaultBoxConfig(projectDir, 'bin/tool').main, 'bin/tool');
  });
});

describe('finder patterns (Symfony Finder rules)', () => {
  it('tells regexes from globs as Symfony does', () => {
    assert.equal(isRegex('/\\.php$/'), true);
    assert.equal(isRegex('#src/#i'), true);
    assert.equal(isRegex('{^a}'), true);
    assert.equal(isRegex('*.php'), false);
    assert.equal(isRegex('foo'), false);
    assert.equal(isRegex('*.html'), false);
  });

  it('matches globs within one segment, with alternation and classes', () => {
    assert.equal(globToRegex('*.php').test('App.php'), true);
    assert.equal(globToRegex('*.php').test('a/App.php'), false);
    assert.equal(globToRegex('*.{php,inc}').test('x.inc'), true);
    assert.equal(globToRegex('file?.[ch]').test('file1.h'), true);
    assert.equal(globToRegex('file?.[!ch]').test('file1.h'), false);
    assert.equal(nameMatcher('/^Test/i')('testCase.php'), true);
  });

  it('matches path patterns as substrings or regexes', () => {
    assert.equal(pathMatcher('Resources/')('Bundle/Resources/x.yml'), true);
    assert.equal(pathMatcher('/^src\\//')('lib/src/x'), false);
    assert.throws(() => toJsRegex('/a/x'), /modifier "x"/);
  });
});
