import * as assert from 'node:assert/strict';
import { parseStatusV2, tagFields } from '../../src/core/git/git';

describe('git output parsers (readGitInfo)', () => {
  const oid = 'a'.repeat(40);

  it('status --porcelain=v2 --branch: HEAD from branch.oid, dirty from any entry line', () => {
    assert.deepEqual(parseStatusV2(`# branch.oid ${oid}\n# branch.head main`), { commit: oid, dirty: false });
    assert.deepEqual(parseStatusV2('# branch.oid (initial)\n# branch.head main'), { commit: undefined, dirty: false });
    assert.deepEqual(parseStatusV2('# branch.oid (initial)\n# branch.head main\n? new.php'), { commit: undefined, dirty: true });
    const sha256Oid = 'b'.repeat(64);
    for (const entry of [
      `1 .M N... 100644 100644 100644 ${oid} ${oid} src/A.php`,
      `2 R. N... 100644 100644 100644 ${oid} ${oid} R100 new.php\told.php`,
      `u UU N... 100644 100644 100644 100644 ${oid} ${oid} ${oid} conflict.php`,
      '? "with\\nnewline.php"',
    ]) {
      assert.deepEqual(
        parseStatusV2(`# branch.oid ${sha256Oid}\n# branch.head (detached)\n${entry}`),
        { commit: sha256Oid, dirty: true },
        entry,
      );
    }
    // Headers git may add (upstream, ahead/behind, stash) are not changes.
    assert.equal(parseStatusV2(`# branch.oid ${oid}\n# branch.upstream origin/main\n# branch.ab +? -?\n# stash 2`).dirty, false);
  });

  it('tags: exact only when describe is the latest tag itself, also for a tag named like describe output', () => {
    assert.deepEqual(tagFields('', ''), { describe: undefined, latestTag: undefined, exactTag: undefined });
    assert.deepEqual(tagFields('v1.0.0', 'v1.0.0'), { describe: 'v1.0.0', latestTag: 'v1.0.0', exactTag: 'v1.0.0' });
    assert.deepEqual(tagFields('v1.0.0-3-gabc1234', 'v1.0.0'), { describe: 'v1.0.0-3-gabc1234', latestTag: 'v1.0.0', exactTag: undefined });
    assert.deepEqual(tagFields('v1-2-gabc1234', 'v1-2-gabc1234'), {
      describe: 'v1-2-gabc1234',
      latestTag: 'v1-2-gabc1234',
      exactTag: 'v1-2-gabc1234',
    });
  });
});
