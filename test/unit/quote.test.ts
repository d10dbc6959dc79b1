import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { quoteArg, shellCommand } from '../../src/core/exec/quote';
import { skipUnlessCi } from '../helpers/skip';

const HOSTILE = [
  "it's",
  "''",
  '"double" quotes',
  '$(touch /tmp/pwned)',
  '`id`',
  '${HOME}',
  '$HOME',
  'line1\nline2',
  '\n',
  'a b  c',
  '\t tab',
  'ünïcödé ✓ 漢字',
  '-rf',
  '--help',
  '-',
  '',
  '*',
  '/etc/*',
  '?',
  '[a-z]',
  'a;b',
  'a|b',
  'a&b',
  'a && b || c',
  '~',
  '~root',
  '~/x',
  '\\',
  'back\\slash\\',
  '!',
  '!!',
  '#comment',
  'a=b',
  '>out',
  '<in',
  '2>&1',
  '(sub)',
  '{a,b}',
  "'; rm -rf / #",
  '"\'"\'"',
  ' ',
];

/**
 * A reader for exactly the forms quoteArg writes (plain word, '...', and '\'' joins), without a
 * shell: if it accepts the text, a POSIX shell reads it as one word with this value.
 */
function unquote(word: string): string {
  if (/^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) && !word.startsWith('-') && !word.startsWith('~')) return word;
  let out = '';
  let i = 0;
  while (i < word.length) {
    if (word[i] === "'") {
      const end = word.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated quote in ${JSON.stringify(word)}`);
      out += word.slice(i + 1, end);
      i = end + 1;
    } else if (word.startsWith("\\'", i)) {
      out += "'";
      i += 2;
    } else {
      assert.fail(`unquoted character ${JSON.stringify(word[i])} in ${JSON.stringify(word)}`);
    }
  }
  return out;
}

describe('shellCommand / quoteArg', () => {
  it('quotes every hostile input so that it reads back exactly (pure reader)', () => {
    for (const input of HOSTILE) assert.equal(unquote(quoteArg(input)), input, JSON.stringify(input));
  });

  it('keeps plain words readable and quotes the rest', () => {
    assert.equal(shellCommand(['ls', '-la', '/srv/app/releases']), "ls '-la' /srv/app/releases");
    assert.equal(quoteArg(''), "''");
    assert.equal(quoteArg("it's"), "'it'\\''s'");
    assert.equal(quoteArg('~'), "'~'");
  });

  it('refuses NUL bytes and empty commands', () => {
    assert.throws(() => quoteArg('a\0b'), /NUL/);
    assert.throws(() => shellCommand([]), /Empty/);
  });

  it('round-trips random strings through the pure reader', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
        (s) => unquote(quoteArg(s)) === s,
      ),
      { numRuns: 2000 },
    );
  });

  // One `sh` per shell for the whole list: cheap, and it is the real parser the servers use.
  for (const shell of ['sh', 'bash']) {
    it(`${shell} -c gets every hostile argument back byte for byte`, function () {
      const line = shellCommand(['printf', '%s\\0', ...HOSTILE]);
      let out: string;
      try {
        out = execFileSync(shell, ['-c', line], { encoding: 'utf8', cwd: '/' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') skipUnlessCi(this, `${shell} is not installed`);
        throw err;
      }
      assert.deepEqual(out.split('\0').slice(0, -1), HOSTILE);
    });
  }

  it('sh -c keeps random strings exact too', () => {
    const samples = fc.sample(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 20 }), 200);
    const out = execFileSync('sh', ['-c', shellCommand(['printf', '%s\\0', ...samples])], { encoding: 'utf8' });
    assert.deepEqual(out.split('\0').slice(0, -1), samples);
  });
});
