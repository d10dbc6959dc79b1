import { buildProject } from '../phar/pharBuild';
import type { BuildOptions, BuildResult } from '../phar/pharBuild';
import { listArtifacts } from '../phar/artifactStore';
import { CancelledError, describeError, inputErrorsOf } from '../errors';
import { appendPendingHistory, currentUser } from './history';

/**
 * buildProject, recorded in the history: a build that ran (or failed while running) is an event;
 * an up-to-date check and bad input (nothing ran, nothing may be written) are not.
 */
export async function buildRecorded(options: BuildOptions): Promise<BuildResult> {
  const previous = (await listArtifacts(options.projectDir).catch(() => []))[0];
  try {
    const result = await buildProject(options);
    if (!result.upToDate) {
      const a = result.artifact;
      await appendPendingHistory(options.projectDir, {
        user: await currentUser(options.projectDir),
        action: 'build',
        target: a.id,
        before: previous ? { artifact: previous.id, version: previous.version } : undefined,
        after: { artifact: a.id, version: a.version, sha256: a.sha256, builder: a.builder },
        result: 'ok',
      });
    }
    return result;
  } catch (err) {
    if (inputErrorsOf(err).length === 0) {
      await appendPendingHistory(options.projectDir, {
        user: await currentUser(options.projectDir),
        action: 'build',
        before: previous ? { artifact: previous.id, version: previous.version } : undefined,
        result: err instanceof CancelledError ? 'cancelled' : `failed: ${describeError(err)}`,
      }).catch(() => undefined);
    }
    throw err;
  }
}
