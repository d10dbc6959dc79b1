import * as path from 'node:path';
import { buildRecorded } from '../core/rollout/recordedBuild';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';

/** `phar-rollout build`: composer install + compile + store; --json prints the artifact. */
export const buildCommand = defineCommand({
  name: 'build',
  summary: "Build the project's phar into .rollout/artifacts (skipped when the inputs are unchanged)",
  usage: 'phar-rollout build [--project DIR] [--json] [--force] [--builtin] [--box PATH]',
  options: {
    ...projectOption,
    ...jsonOption,
    force: { type: 'boolean' },
    builtin: { type: 'boolean' },
    box: { type: 'string' },
  },
  async run(values, _positionals, ctx) {
    const projectDir = path.resolve(values.project ?? process.cwd());
    const { artifact, upToDate } = await buildRecorded({
      projectDir,
      compilerScript: ctx.compilerScript,
      log: ctx.log,
      signal: ctx.signal,
      builder: values.builtin ? 'builtin' : 'auto',
      boxPath: values.box,
      force: values.force === true,
    });
    if (values.json) ctx.stdout(JSON.stringify({ ...artifact, upToDate }, null, 2));
    else ctx.stdout(`${upToDate ? 'up to date' : 'built'} ${artifact.id} ${artifact.pharPath}`);
    return EXIT_OK;
  },
});
