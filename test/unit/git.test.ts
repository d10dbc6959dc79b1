import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError } from '../../src/core/errors';
import { run } from '../../src/core/exec/process';
import { headCommit, isRepo, readGitInfo, userEmail } from '../../src/core/git/git';

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

  it('a cancelled read rejects with CancelledError', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(headCommit(dir, { signal: ac.signal }), CancelledError);
  });
});
