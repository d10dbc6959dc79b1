import * as assert from 'node:assert/strict';
import { parsePercent } from '../../src/vscode/format';

describe('vscode format: parsePercent (the Ramp percentage box)', () => {
  it('accepts a number with or without a percent sign', () => {
    assert.equal(parsePercent('25'), 25);
    assert.equal(parsePercent('25%'), 25);
    assert.equal(parsePercent(' 25 % '), 25);
    assert.equal(parsePercent('12.5%'), 12.5);
    assert.equal(parsePercent('0'), 0);
    assert.equal(parsePercent('100%'), 100);
  });

  it('refuses what is not a share of 0 to 100 with two decimals', () => {
    for (const bad of ['', '%', '101', '25%%', '-5', '1.234', 'abc', '25 percent', '% 25'])
      assert.equal(parsePercent(bad), undefined, JSON.stringify(bad));
  });
});
