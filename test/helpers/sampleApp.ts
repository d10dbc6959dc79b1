/** The sample app (test/fixtures/sample-app) as a committed git repository, and built once into a phar with the built-in compiler. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { nullLogger } from '../../src/core/log';
import type { Artifact } from '../../src/core/phar/artifact';
import { buildProject } from '../../src/core/phar/pharBuild';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/sample-app');
/** Fixed author and committer dates: the same sample app gives the same commit (reproducible builds). */
export const SAMPLE_COMMIT_DATE = '2024-01-02T03:04:05Z';
/** git's environment for the sample repositories: fixed dates, no system config. */
export const sampleGitEnv = { GIT_AUTHOR_DATE: SAMPLE_COMMIT_DATE, GIT_COMMITTER_DATE: SAMPLE_COMMIT_DATE, GIT_CONFIG_NOSYSTEM: '1' };
/** A git identity (and no signing) for commits and tags in the sample repositories. */
export const sampleGitId = [
  '-c',
  'user.name=Sample App',
  '-c',
  'user.email=sample@example.invalid',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
];

/** Copies the sample app (without vendor, .rollout, build) into `dir` and commits it to a new git repository; returns the commit. */
export async function sampleRepo(dir: string): Promise<string> {
  await fs.cp(FIXTURE, dir, {
    recursive: true,
    filter: (src) => !['vendor', '.rollout', 'build'].includes(path.relative(FIXTURE, src).split(path.sep)[0]),
  });
  await run('git', ['init', '-q', '-b', 'main'], { cwd: dir, env: sampleGitEnv });
  await run('git', ['add', '-A'], { cwd: dir, env: sampleGitEnv });
  await run('git', [...sampleGitId, 'commit', '-q', '-m', 'sample app'], { cwd: dir, env: sampleGitEnv });
  return (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
}

/** Copies the sample app into `<tmp>/repo`, commits it and builds it; the artifact lives in that repo's store. */
export async function buildSampleApp(tmp: string): Promise<Artifact> {
  const repo = path.join(tmp, 'repo');
  await sampleRepo(repo);
  const { artifact } = await buildProject({
    projectDir: repo,
    compilerScript: path.join(ROOT, 'php/compile.php'),
    log: nullLogger,
    builder: 'builtin',
  });
  return artifact;
}
