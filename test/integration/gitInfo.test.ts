import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { commitTime, describeTags, exactTag, headCommit, isDirty, latestTag, readGitInfo } from '../../src/core/git/git';
import type { GitInfo } from '../../src/core/git/git';
import { skipUnlessCi } from '../helpers/skip';

const env = {
  GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z',
  GIT_CONFIG_NOSYSTEM: '1',
};
const id = [
  '-c',
  'user.name=Git Test',
  '-c',
  'user.email=git-test@example.invalid',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
];

/** What readGitInfo answered before it was two processes: one git call per field. */
async function oneCallPerField(dir: string, exclude: string[] = []): Promise<GitInfo> {
  const commit = await headCommit(dir);
  if (!commit) return { isRepo: true, dirty: await isDirty(dir, { exclude }) };
  return {
    isRepo: true,
    commit,
    shortCommit: commit.slice(0, 7),
    commitTime: await commitTime(dir),
    describe: await describeTags(dir),
    latestTag: await latestTag(dir),
    exactTag: await exactTag(dir),
    dirty: await isDirty(dir, { exclude }),
  };
}

describe('readGitInfo (integration: git)', function () {
  this.timeout(60000);
  let dir: string;
  const git = (...args: string[]) => run('git', [...id, ...args], { cwd: dir, env });
  const commit = async (file: string) => {
    await fs.writeFile(path.join(dir, file), `${file}\n`);
    await git('add', '-A');
    await git('commit', '-q', '-m', file);
  };
  /** readGitInfo and the one-call-per-field answer agree, and readGitInfo says `expected`. */
  const expectInfo = async (expected: Partial<GitInfo>, exclude: string[] = []) => {
    const info = await readGitInfo(dir, { exclude });
    assert.deepEqual(info, await oneCallPerField(dir, exclude));
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(info[k as keyof GitInfo], v, k);
    return info;
  };

  before(async function () {
    const found = await run('git', ['--version'], { allowFailure: true }).then(
      (r) => r.code === 0,
      () => false,
    );
    if (!found) skipUnlessCi(this, 'git is not available');
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'git-info-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('outside a repository: not a repo, not dirty', async () => {
    assert.deepEqual(await readGitInfo(dir), { isRepo: false, dirty: false });
  });

  it('inside .git: not a work tree', async () => {
    await git('init', '-q');
    assert.deepEqual(await readGitInfo(path.join(dir, '.git')), { isRepo: false, dirty: false });
  });

  it('before the first commit: a repo without commit, dirty by an untracked file', async () => {
    await git('init', '-q');
    assert.deepEqual(await readGitInfo(dir), { isRepo: true, dirty: false });
    await fs.writeFile(path.join(dir, 'a.txt'), 'a');
    assert.deepEqual(await readGitInfo(dir), { isRepo: true, dirty: true });
  });

  it('commit, time and tags: none, exact, behind, annotated over lightweight, a tag named like describe output', async () => {
    await git('init', '-q');
    await commit('a');
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    await expectInfo({
      commit: head,
      shortCommit: head.slice(0, 7),
      commitTime: '2024-01-02T03:04:05.000Z',
      describe: undefined,
      latestTag: undefined,
      exactTag: undefined,
      dirty: false,
    });
    await git('tag', 'v1.0.0');
    await expectInfo({ describe: 'v1.0.0', latestTag: 'v1.0.0', exactTag: 'v1.0.0' });
    await commit('b');
    const behind = await expectInfo({ latestTag: 'v1.0.0', exactTag: undefined });
    assert.match(behind.describe ?? '', /^v1\.0\.0-1-g[0-9a-f]{7,}$/);
    // A tag named after describe's own output, on HEAD: exact, not "v1.0.0 one commit behind".
    await git('tag', behind.describe as string);
    await expectInfo({ describe: behind.describe, latestTag: behind.describe, exactTag: behind.describe });
    await git('tag', '-a', '-m', 'release', 'v1.1.0');
    await expectInfo({ describe: 'v1.1.0', latestTag: 'v1.1.0', exactTag: 'v1.1.0' });
  });

  it('dirty: modified, staged and untracked files (also with status.showUntrackedFiles=no); .rollout, vendor and exclude are not', async () => {
    await git('init', '-q');
    await fs.writeFile(path.join(dir, '.gitignore'), 'ignored/\n');
    await commit('a');
    await fs.mkdir(path.join(dir, '.rollout'));
    await fs.writeFile(path.join(dir, '.rollout', 'state.json'), '{}');
    await fs.mkdir(path.join(dir, 'vendor'));
    await fs.writeFile(path.join(dir, 'vendor', 'autoload.php'), '<?php');
    await fs.mkdir(path.join(dir, 'ignored'));
    await fs.writeFile(path.join(dir, 'ignored', 'x'), 'x');
    await fs.mkdir(path.join(dir, 'build'));
    await fs.writeFile(path.join(dir, 'build', 'app.phar'), 'phar');
    await expectInfo({ dirty: false }, ['build/app.phar']);
    await expectInfo({ dirty: true });
    await fs.rm(path.join(dir, 'build'), { recursive: true });

    await fs.writeFile(path.join(dir, 'new file\nwith newline.txt'), 'n');
    await git('config', 'status.showUntrackedFiles', 'no');
    await expectInfo({ dirty: true });
    await fs.rm(path.join(dir, 'new file\nwith newline.txt'));
    await expectInfo({ dirty: false });

    await fs.writeFile(path.join(dir, 'a'), 'changed');
    await expectInfo({ dirty: true });
    await git('add', 'a');
    await expectInfo({ dirty: true });
    await git('checkout', '-q', 'HEAD', '--', 'a');
    await expectInfo({ dirty: false });
  });

  it('on a git older than 2.35 (no %(describe:tags) placeholder) the tags come from describe', async () => {
    await git('init', '-q');
    await commit('a');
    await git('tag', 'v2.0.0');
    await commit('b');
    const expected = await oneCallPerField(dir);
    // A git on PATH that prints %(describe…) back literally, as an older git does ("%%" is git's literal "%").
    const realGit = (await run('sh', ['-c', 'command -v git'])).stdout.trim();
    const bin = await fs.mkdtemp(path.join(os.tmpdir(), 'old-git-'));
    await fs.writeFile(
      path.join(bin, 'git'),
      `#!${process.execPath}\nif (process.argv.some((a) => a.includes('%(describe'))) require('node:fs').appendFileSync(${JSON.stringify(path.join(bin, 'rewrote'))}, 'x');\nconst r = require('node:child_process').spawnSync(${JSON.stringify(realGit)}, process.argv.slice(2).map((a) => a.split('%(describe').join('%%(describe')), { stdio: 'inherit' });\nprocess.exit(r.status ?? 1);\n`,
      { mode: 0o755 },
    );
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${savedPath ?? ''}`;
    try {
      const info = await readGitInfo(dir);
      assert.deepEqual(info, expected);
      assert.match(info.describe ?? '', /^v2\.0\.0-1-g/);
      assert.equal(info.latestTag, 'v2.0.0');
      assert.equal(await fs.readFile(path.join(bin, 'rewrote'), 'utf8'), 'x', 'the log -1 call went through the old-git stand-in');
    } finally {
      process.env.PATH = savedPath;
      await fs.rm(bin, { recursive: true, force: true });
    }
  });

  it('a project in a subfolder: only its own changes make it dirty', async () => {
    await git('init', '-q');
    await fs.mkdir(path.join(dir, 'app'));
    await commit('app/a');
    await fs.writeFile(path.join(dir, 'elsewhere.txt'), 'x');
    const info = await readGitInfo(path.join(dir, 'app'));
    assert.equal(info.dirty, false);
    assert.equal(info.commit, (await git('rev-parse', 'HEAD')).stdout.trim());
    await fs.writeFile(path.join(dir, 'app', 'b'), 'x');
    assert.equal((await readGitInfo(path.join(dir, 'app'))).dirty, true);
  });
});
