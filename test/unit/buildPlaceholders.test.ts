import * as assert from 'node:assert/strict';
import { formatPhpDate, placeholderValues } from '../../src/core/phar/placeholders';
import type { PlaceholderConfig } from '../../src/core/config/boxConfig';

const time = new Date('2024-01-02T03:04:05Z');
const commit = '0123456789abcdef0123456789abcdef01234567';
const base: PlaceholderConfig = { sigil: '@', datetimeFormat: 'Y-m-d H:i:s T', replacements: {} };

describe('placeholders', () => {
  it('fills every git placeholder as box does', () => {
    const { values, problems } = placeholderValues(
      {
        ...base,
        gitCommit: 'c',
        gitCommitShort: 'cs',
        gitTag: 't',
        gitVersion: 'v',
        git: 'g',
        datetime: 'd',
        replacements: { title: 'Acme' },
      },
      { commit, describe: '1.2.0-3-g0123456', latestTag: '1.2.0', time },
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(values, {
      '@title@': 'Acme',
      '@c@': commit,
      '@cs@': '0123456',
      '@t@': '1.2.0-3-g0123456',
      '@v@': '1.2.0',
      '@g@': '1.2.0@0123456',
      '@d@': '2024-01-02 03:04:05 UTC',
    });
  });

  it('uses the exact tag for "git" and the short commit for git-version without tags', () => {
    const onTag = placeholderValues({ ...base, git: 'g' }, { commit, exactTag: '2.0.0', latestTag: '2.0.0', describe: '2.0.0', time });
    assert.equal(onTag.values['@g@'], '2.0.0');
    const noTag = placeholderValues({ ...base, gitVersion: 'v' }, { commit, time });
    assert.equal(noTag.values['@v@'], '0123456');
  });

  it('honours a custom sigil', () => {
    const { values } = placeholderValues({ ...base, sigil: '%%', replacements: { x: '1' } }, { time });
    assert.deepEqual(values, { '%%x%%': '1' });
  });

  it('reports git placeholders that cannot be filled, by box.json key', () => {
    const { problems } = placeholderValues({ ...base, gitCommit: 'c', gitTag: 't' }, { time });
    assert.deepEqual(
      problems.map((p) => p.key),
      ['git-commit', 'git-tag'],
    );
  });

  it('uses datetime-format for the datetime placeholder', () => {
    const { values, problems } = placeholderValues({ ...base, datetime: 'd', datetimeFormat: 'Ymd\\THis' }, { time });
    assert.deepEqual(problems, []);
    assert.equal(values['@d@'], '20240102T030405');
  });

  it('formats dates like PHP date() in UTC', () => {
    // Expected strings printed by PHP 8.2's date() with the UTC time zone.
    assert.equal(formatPhpDate('c', time), '2024-01-02T03:04:05+00:00');
    assert.equal(formatPhpDate('r', time), 'Tue, 02 Jan 2024 03:04:05 +0000');
    assert.equal(formatPhpDate('l jS \\of F Y h:i:s A', time), 'Tuesday 2nd of January 2024 03:04:05 AM');
    assert.equal(
      formatPhpDate('N w z W t L o y a g G u v e P O p Z U', time),
      '2 2 1 01 31 1 2024 24 am 3 3 000000 000 UTC +00:00 +0000 Z 0 1704164645',
    );
    assert.equal(formatPhpDate('o-W N z', new Date('2021-01-01T00:00:00Z')), '2020-53 5 0');
    assert.equal(formatPhpDate('B I x X', time), '169 0 2024 +2024');
  });
});
