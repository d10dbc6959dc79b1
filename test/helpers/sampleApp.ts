/** The sample app (test/fixtures/sample-app) built once into a phar with the built-in compiler. */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { nullLogger } from '../../src/core/log';
import type { Artifact } from '../../src/core/phar/artifact';
import { buildProject } from '../../src/core/phar/pharBuild';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/sample-app');
const gitEnv = { GIT_CONFIG_NOSYSTEM: '1' };
const gitId = ['-c', 'user.name=Sample App', '-c', 'user.email=sample@example.invalid', '-c', 'commit.gpgsign=false'];

/** Copies the sample app into `<tmp>/repo`, commits it and builds it; the artifact lives in that repo's store. */
export async function buildSampleApp(tmp: string): Promise<Artifact> {
  const repo = path.join(tmp, 'repo');
  await fs.cp(FIXTURE, repo, {
    recursive: true,
    filter: (src) => !['vendor', '.rollout', 'build'].includes(path.relative(FIXTURE, src).split(path.sep)[0]),
  });
  await run('git', ['init', '-q', '-b', 'main'], { cwd: repo, env: gitEnv });
  await run('git', ['add', '-A'], { cwd: repo, env: gitEnv });
  await run('git', [...gitId, 'commit', '-q', '-m', 'sample app'], { cwd: repo, env: gitEnv });
  const { artifact } = await buildProject({
    projectDir: repo,
    compilerScript: path.join(ROOT, 'php/compile.php'),
    log: nullLogger,
    builder: 'builtin',
  });
  return artifact;
}
