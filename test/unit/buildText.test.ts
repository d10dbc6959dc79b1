import * as assert from 'node:assert/strict';
import { lastBuildRow, packageStatusText } from '../../src/vscode/buildText';

describe('build texts (Project view row, package status item)', () => {
  const build = { version: '1.2.0', size: 14025, sha256: '3f704d0d0c6f1a4c', builder: 'builtin', builtAt: '2026-12-02T10:00:00Z' };
  const now = Date.parse('2026-12-02T10:05:00Z');

  it('says "out of date — Build Phar" once composer.json names another version', () => {
    const row = lastBuildRow(build, { upToDate: false, composerVersion: '1.3.0' }, now);
    assert.equal(row.label, 'Last build 1.2.0');
    assert.equal(row.outOfDate, true);
    assert.equal(row.description, 'out of date — Build Phar (composer.json: 1.3.0)');
  });

  it('shows the details, "up to date" first after a build that found nothing changed', () => {
    const row = lastBuildRow(build, { upToDate: true, composerVersion: '1.2.0' }, now);
    assert.equal(row.outOfDate, false);
    assert.match(row.description, /^up to date · 13\.7 KB · builtin · /);
    assert.doesNotMatch(row.description, /sha256/, 'the hash is in the tooltip, not on the narrow row');
    assert.equal(lastBuildRow(build, { upToDate: false }, now).outOfDate, false, 'no composer version (from git tags): not out of date');
  });

  it('escapes a hostile version from the manifest', () => {
    const row = lastBuildRow({ ...build, version: '1.2.0\u001b[31m' }, { upToDate: false, composerVersion: '1.3.0\u0007' }, now);
    assert.doesNotMatch(row.label + row.description, /[\u0000-\u001f]/);
  });

  it('the package item of a project never built says so instead of composer.json\u2019s version', () => {
    assert.equal(packageStatusText('sample-app', undefined, '1.3.0'), 'sample-app not built');
    assert.equal(packageStatusText('sample-app', { version: '1.3.0' }, '1.3.0'), 'sample-app 1.3.0');
    assert.equal(packageStatusText('sample-app', { version: '1.2.0' }, '1.3.0'), 'sample-app 1.2.0 (out of date)');
  });
});
