import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError } from '../../src/core/errors';
import { run } from '../../src/core/exec/process';
import { headCommit, isRepo, listRefs, parseRefs, readGitInfo, userEmail } from '../../src/core/git/git';

describe('git (simple-git)', () => {
  let dir: string;
  const saved = { ...process.env };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'git-unit-'));
    const env = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
    await run('git', ['init', '-q'], { cwd: dir, env });
    await run('git', ['-c', 'user.email=a@example.com', '-c', 'user.name=A', 'commit', '-q', '--allow-empty', '-m', 'x'], {
      cwd: dir,
      env,
    });
    await run('git', ['tag', 'v1.0.0'], { cwd: dir, env });
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('reads commit, tags and dirty state with the user’s EDITOR/PAGER exported (simple-git would refuse them)', async () => {
    Object.assign(process.env, { EDITOR: 'vi', PAGER: 'less', GIT_PAGER: 'less' });
    const info = await readGitInfo(dir);
    assert.equal(info.isRepo, true);
    assert.match(info.commit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(info.exactTag, 'v1.0.0');
    assert.equal(info.dirty, false);
    await fs.writeFile(path.join(dir, 'new.txt'), 'x');
    assert.equal((await readGitInfo(dir)).dirty, true);
    await fs.rm(path.join(dir, 'new.txt'));
  });

  it('keeps the user’s git environment (GIT_CONFIG_GLOBAL) and reads a silent failure as absent', async () => {
    process.env.GIT_CONFIG_GLOBAL = '/dev/null';
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    assert.equal(await userEmail(dir), undefined, 'no user.email anywhere: git exits 1 without a word');
    assert.equal(await isRepo(os.tmpdir()), false);
    assert.equal(await isRepo(path.join(dir, 'does-not-exist')), false);
  });

  it('listRefs: tags then branches, newest first, with the commit (an annotated tag’s target), date and subject', async () => {
    const env = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
    const repo = await fs.mkdtemp(path.join(os.tmpdir(), 'git-refs-'));
    try {
      const git = (args: string[], time: number) =>
        run('git', ['-c', 'user.email=a@example.com', '-c', 'user.name=A', ...args], {
          cwd: repo,
          env: { ...env, GIT_COMMITTER_DATE: `${time} +0000`, GIT_AUTHOR_DATE: `${time} +0000` },
        });
      await git(['init', '-q', '-b', 'main'], 0);
      await git(['commit', '-q', '--allow-empty', '-m', 'First release'], 1_700_000_000);
      await git(['tag', 'v1.0.0'], 1_700_000_000);
      await git(['commit', '-q', '--allow-empty', '-m', 'Second release'], 1_700_100_000);
      await git(['tag', '-a', 'v1.1.0', '-m', 'Version 1.1.0'], 1_700_200_000);
      await git(['branch', 'hotfix'], 1_700_200_000);
      const head = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, env })).stdout.trim();
      const refs = await listRefs(repo);
      assert.deepEqual(
        refs.map((r) => [r.kind, r.name, r.subject, r.date]),
        [
          ['tag', 'v1.1.0', 'Version 1.1.0', new Date(1_700_200_000_000).toISOString()],
          ['tag', 'v1.0.0', 'First release', new Date(1_700_000_000_000).toISOString()],
          ['branch', 'hotfix', 'Second release', new Date(1_700_100_000_000).toISOString()],
          ['branch', 'main', 'Second release', new Date(1_700_100_000_000).toISOString()],
        ],
      );
      assert.equal(refs[0].commit, head, 'an annotated tag lists the commit it points at, not the tag object');
      assert.deepEqual(await listRefs(os.tmpdir()), [], 'outside a repository: no refs');
    } finally {
      await fs.rm(repo, { recursive: true, force: true });
    }
  });

  it('parseRefs skips lines of another shape', () => {
    assert.deepEqual(parseRefs('refs/remotes/origin/main\0abc\0\0x\nnot a ref\n'), []);
    assert.deepEqual(parseRefs('refs/heads/feat/x\0abc1234\0\0Subject'), [
      { kind: 'branch', name: 'feat/x', commit: 'abc1234', date: undefined, subject: 'Subject' },
    ]);
  });

  it('a cancelled read rejects with CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(headCommit(dir, { signal: ac.signal }), CancelledError);
  });
});
