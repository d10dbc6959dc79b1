import assert from 'node:assert/strict';
import { markdownText, quoted, safeText } from '../../src/core/safeText';

describe('safeText', () => {
  it('escapes terminal control sequences visibly', () => {
    assert.equal(safeText('1.3.0\u001b]0;owned\u0007\u001b[2J\r\nfake row'), '1.3.0\\e]0;owned\\a\\e[2J\\r\\nfake row');
    assert.equal(safeText('a\u009bb\u202ec\u007f'), 'a\\x9bb\\u202ec\\x7f');
  });
  it('caps long values and says how much was cut', () => {
    assert.equal(safeText('x'.repeat(250)), `${'x'.repeat(200)}…(+50)`);
    assert.equal(quoted('k'.repeat(10), 4), '"kkkk…(+6)"');
  });
  it('shows non-strings without throwing', () => {
    assert.equal(safeText({ toString: 1 }), '{"toString":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(safeText(cyclic), '[object Object]');
    assert.equal(safeText(undefined), 'undefined');
  });
  it('escapes markdown, HTML and theme icons', () => {
    const md = markdownText('![x](http://e/a.png) <img src=x> $(zap) [l](command:evil)');
    assert.ok(!/(^|[^\\])[![<($]/.test(md.replace(/\\./g, '')), md);
    assert.equal(markdownText('1.3.0'), '1\\.3\\.0');
  });
});
