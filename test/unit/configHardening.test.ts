import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseBoxConfig, readBoxConfig } from '../../src/core/config/boxConfig';
import { parseComposerJson } from '../../src/core/config/composerJson';
import { MAX_JSON_DEPTH } from '../../src/core/config/jsonDocument';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import { InputErrors } from '../../src/core/errors';
import type { InputError } from '../../src/core/errors';

const projectDir = path.resolve('/tmp/project');
const boxFile = path.join(projectDir, 'box.json');
const rolloutFile = path.join(projectDir, 'rollout.json');
const composerFile = path.join(projectDir, 'composer.json');

function errorsOf(fn: () => unknown): InputError[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputErrors, `expected InputErrors, got ${String(err)}`);
    return err.errors;
  }
  assert.fail('expected the file to be refused');
}

const where = (e: InputError) => [e.location?.line, e.location?.column];
const backends = '"backends": [{ "name": "web-1", "group": "stable", "upstream": "127.0.0.1:8001", "dir": "a" }]';

const parsers: Array<[string, string, (text: string) => unknown]> = [
  ['rollout.json', rolloutFile, (t) => parseRolloutConfig(rolloutFile, t)],
  ['box.json', boxFile, (t) => parseBoxConfig(boxFile, t, { projectDir, strict: true })],
  ['composer.json', composerFile, (t) => parseComposerJson(composerFile, t)],
];

describe('config parsers against hostile input', () => {
  for (const [name, file, parse] of parsers) {
    describe(name, () => {
      it('refuses a duplicate key at the duplicate, not the first', () => {
        const key = name === 'rollout.json' ? 'app' : name === 'box.json' ? 'main' : 'name';
        const value = name === 'composer.json' ? '"acme/a"' : name === 'rollout.json' ? '"a"' : '"index.php"';
        const text = `{\n  "${key}": ${value},\n  ${name === 'rollout.json' ? backends + ',' : ''}\n  "${key}": ${value}\n}`;
        const errs = errorsOf(() => parse(text));
        assert.equal(errs.length, 1);
        assert.equal(errs[0].location?.file, file);
        assert.deepEqual(where(errs[0]), [4, 3]);
        assert.equal(errs[0].message, `Duplicate key "${key}" (first at line 2, column 3)`);
      });

      it('refuses a duplicate key nested deep inside a value', () => {
        const text = `{"extra": {"a": [{"k": 1, "k": 2}]}${name === 'rollout.json' ? ', ' + backends : ''}}`;
        const errs = errorsOf(() => parse(text));
        assert.ok(
          errs.some((e) => e.message.startsWith('Duplicate key "k"') && e.location?.column === 27),
          errs.map((e) => e.format()).join('\n'),
        );
      });

      it('gives a located error for 10,000-deep nesting instead of overflowing the stack', () => {
        const text = `{"x": ${'['.repeat(10000)}${']'.repeat(10000)}}`;
        const errs = errorsOf(() => parse(text));
        assert.equal(errs.length, 1);
        assert.equal(errs[0].message, `Objects and arrays are nested deeper than ${MAX_JSON_DEPTH} levels`);
        // The root object is level 1, so the array opening level MAX + 1 is at offset 6 + MAX - 1.
        assert.deepEqual(where(errs[0]), [1, 6 + MAX_JSON_DEPTH]);
        const objects = `${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}`;
        assert.match(errorsOf(() => parse(objects))[0].message, /nested deeper than/);
      });

      it('accepts nesting up to the limit', () => {
        const deep = `${'['.repeat(MAX_JSON_DEPTH - 2)}${']'.repeat(MAX_JSON_DEPTH - 2)}`;
        const text = name === 'rollout.json' ? `{"app": "a", ${backends}}` : `{"extra": {"x": ${deep}}}`;
        if (name === 'box.json') parse(`{"metadata": {"x": ${deep}}}`);
        else parse(text);
      });
    });
  }

  it('rollout.json: an unknown key with terminal escapes is escaped and capped in the message', () => {
    const hostile = '\u001b]0;pwned\u0007\u001b[2J\r\nweb-9 | 100 %';
    const errs = errorsOf(() => parseRolloutConfig(rolloutFile, `{${backends}, ${JSON.stringify(hostile)}: 1}`));
    const text = errs.map((e) => e.format()).join('\n');
    assert.ok(!/[\u0000-\u001f]/.test(text), `control characters in ${JSON.stringify(text)}`);
    assert.ok(text.includes('Unknown property "\\e]0;pwned\\a\\e[2J\\r\\nweb-9 | 100 %" in rollout.json'), text);
    const huge = 'k'.repeat(5_000_000);
    const [big] = errorsOf(() => parseRolloutConfig(rolloutFile, `{${backends}, "${huge}": 1}`));
    assert.ok(big.message.length < 400, `message of ${big.message.length} characters`);
    assert.ok(big.message.includes('…(+4999800)'), big.message);
  });

  describe('box.json', () => {
    const strict = (text: string) => parseBoxConfig(boxFile, text, { projectDir, strict: true });

    it('refuses __proto__, constructor and toString as unknown keys (own properties only)', () => {
      const errs = errorsOf(() => strict('{\n"__proto__": {"main": "x.php"},\n"constructor": 1,\n"toString": "x"\n}'));
      assert.deepEqual(
        errs.map((e) => [e.location?.line, e.message]),
        [
          [2, 'box.json key "__proto__" is not supported by the built-in compiler'],
          [3, 'box.json key "constructor" is not supported by the built-in compiler'],
          [4, 'box.json key "toString" is not supported by the built-in compiler'],
        ],
      );
    });

    it('does not let "__proto__" give other keys a value', () => {
      const config = parseBoxConfig(boxFile, '{"__proto__": {"main": "evil.php", "output": "/etc/x"}}', { projectDir, strict: false });
      assert.equal(config.main, 'index.php');
      assert.equal(config.output, path.join(projectDir, 'index.phar'));
    });

    it('refuses finder methods hasOwnProperty, __proto__ and constructor', () => {
      const errs = errorsOf(() => strict('{"finder": [{"in": "src", "hasOwnProperty": 1, "__proto__": [], "constructor": "x"}]}'));
      assert.deepEqual(
        errs.map((e) => e.message),
        ['hasOwnProperty', '__proto__', 'constructor'].map(
          (m) => `box.json finder method "${m}" is not supported by the built-in compiler`,
        ),
      );
    });

    it('refuses a banner-file outside the base path, and never reads it', async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'box-banner-'));
      try {
        const secret = path.join(path.dirname(dir), `${path.basename(dir)}-secret.txt`);
        await fs.writeFile(secret, 'root:x:0:0');
        for (const value of [secret, `../${path.basename(secret)}`, '/etc/passwd']) {
          await fs.writeFile(path.join(dir, 'box.json'), JSON.stringify({ 'banner-file': value }));
          let read = false;
          const errs = errorsOf(() =>
            parseBoxConfig(path.join(dir, 'box.json'), JSON.stringify({ 'banner-file': value }), {
              projectDir: dir,
              strict: true,
              readFile: () => {
                read = true;
                return 'root:x:0:0';
              },
            }),
          );
          assert.equal(read, false, 'the file outside must not be read');
          assert.deepEqual(
            errs.map((e) => e.message),
            [`"banner-file" ("${value}") is outside the base path ${dir}`],
          );
          await assert.rejects(readBoxConfig(dir, { strict: true }), (err: unknown) => {
            assert.ok(err instanceof InputErrors);
            assert.ok(!err.message.includes('root:x'), err.message);
            return /"banner-file" .* is outside the base path/.test(err.message);
          });
        }
        await fs.rm(secret);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it('refuses a base path outside the project (it would unconfine every path key)', () => {
      const errs = errorsOf(() => strict('{"base-path": "/", "banner-file": "etc/passwd"}'));
      assert.equal(errs[0].message, `The base path "/" is outside the project ${projectDir}`);
      assert.deepEqual(where(errs[0]), [1, 15]);
    });

    it('refuses an output outside the base path or inside .git / .rollout (the built-in compiler writes it)', () => {
      for (const output of ['../app.phar', '/tmp/app.phar', '.git/hooks/pre-commit', '.rollout/state.json', '.']) {
        const errs = errorsOf(() => strict(JSON.stringify({ output })));
        assert.equal(errs.length, 1, output);
        assert.match(errs[0].message, /^"output" \(.*\) must be a file inside the base path/);
      }
      const config = strict('{"output": "build/app.phar"}');
      assert.equal(config.output, path.join(projectDir, 'build/app.phar'));
      assert.equal(config.outputIsSet, true);
      assert.equal(strict('{}').outputIsSet, false);
    });

    it('quotes at most ~200 characters of a 5 MB value, escaped', () => {
      const huge = '\u001b[2J' + 'x'.repeat(5_000_000);
      for (const text of [
        JSON.stringify({ [huge]: 1 }),
        JSON.stringify({ compression: huge }),
        JSON.stringify({ main: 3, directories: [huge.length > 0 ? 1 : 0, huge] }),
        JSON.stringify({ 'exclude-dev-files': huge }),
      ]) {
        const errs = errorsOf(() => strict(text));
        for (const e of errs) {
          assert.ok(e.format().length < 700, `a message of ${e.format().length} characters`);
          assert.ok(!e.format().includes('\u001b'), 'raw escape in the message');
        }
      }
    });
  });

  it('composer.json: a 5 MB name is quoted capped', () => {
    const [err] = errorsOf(() => parseComposerJson(composerFile, JSON.stringify({ name: 'N'.repeat(5_000_000) })));
    assert.ok(err.message.length < 400, `message of ${err.message.length} characters`);
  });
});
