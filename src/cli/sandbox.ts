import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../core/errors';
import { sandboxDown, sandboxInfo, sandboxUp } from '../core/sandbox/sandbox';
import type { SandboxInfo } from '../core/sandbox/sandbox';
import { EXIT_FAILURE, EXIT_OK, defineCommand, jsonOption } from './cliCommand';

/** The sample app ships in the repository beside dist/ (dist/../test/fixtures/sample-app); out/src/cli in tests. */
function findSampleApp(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'test', 'fixtures', 'sample-app');
    if (existsSync(path.join(candidate, 'composer.json'))) return candidate;
    dir = path.dirname(dir);
  }
  return path.join(__dirname, '..', 'test', 'fixtures', 'sample-app');
}

/** The JSON `sandbox up` prints: what a script or a test needs to reach every process. */
function publicInfo(info: SandboxInfo) {
  return {
    status: info.status,
    project: info.project,
    lbUrl: info.lbUrl,
    backends: info.backends.map((b) => ({ name: b.name, group: b.group, url: b.url, pid: b.pid ?? null })),
    nginx: { prefix: info.nginx.prefix, pid: info.nginx.pid ?? null },
    ...(info.artifact ? { artifact: info.artifact } : {}),
  };
}

const SANDBOX_USAGE =
  'phar-rollout sandbox up --dir DIR [--project PROJECT] [--json] | sandbox down --dir DIR | sandbox status --dir DIR [--json]';

/** `phar-rollout sandbox up|down|status --dir DIR`: the sample app on local php backends behind nginx. */
export const sandboxCommand = defineCommand({
  name: 'sandbox',
  summary: 'Local playground: the sample app on 2 stable + 1 canary php backends behind nginx (up | down | status)',
  usage: SANDBOX_USAGE,
  positionals: true,
  options: {
    dir: { type: 'string', short: 'd' },
    project: { type: 'string' },
    ...jsonOption,
  },
  async run(values, positionals, ctx) {
    const [action, ...extra] = positionals;
    if (!action || !['up', 'down', 'status'].includes(action) || extra.length)
      throw new InputError('Say up, down or status', { hint: SANDBOX_USAGE });
    const dir = values.dir !== undefined ? path.resolve(values.dir) : undefined;
    if (!dir) throw new InputError('Give the sandbox folder with --dir DIR', { hint: SANDBOX_USAGE });
    if (action === 'up') {
      const info = await sandboxUp({
        dir,
        fixtureDir: findSampleApp(),
        compilerScript: ctx.compilerScript,
        project: values.project !== undefined ? path.resolve(values.project) : undefined,
        log: ctx.log,
        signal: ctx.signal,
      });
      if (values.json) ctx.stdout(JSON.stringify(publicInfo(info), null, 2));
      else {
        ctx.stdout(`sandbox ${info.status} in ${info.dir}`);
        ctx.stdout(`project  ${info.project}`);
        ctx.stdout(`LB       ${info.lbUrl} (nginx pid ${info.nginx.pid})`);
        for (const b of info.backends) ctx.stdout(`${b.name.padEnd(8)} ${b.group.padEnd(6)} ${b.url} (php pid ${b.pid})`);
      }
      return EXIT_OK;
    }
    if (action === 'status') {
      const info = await sandboxInfo(dir);
      if (!info) throw new InputError(`No sandbox in ${dir}`, { hint: 'Start one with `phar-rollout sandbox up --dir DIR`.' });
      const running = info.backends.every((b) => b.pid) && info.nginx.pid;
      const shown = { ...publicInfo(info), status: running ? 'running' : 'stopped' };
      if (values.json) ctx.stdout(JSON.stringify(shown, null, 2));
      else
        ctx.stdout(
          [
            `sandbox ${shown.status}`,
            ...shown.backends.map((b) => `${b.name} ${b.pid ? `pid ${b.pid}` : 'stopped'}`),
            `nginx ${shown.nginx.pid ? `pid ${shown.nginx.pid}` : 'stopped'}`,
          ].join('\n'),
        );
      return running ? EXIT_OK : EXIT_FAILURE;
    }
    const { stopped } = await sandboxDown({ dir, log: ctx.log });
    if (values.json) ctx.stdout(JSON.stringify({ stopped }, null, 2));
    else ctx.stdout(stopped.length ? `stopped ${stopped.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}` : 'nothing was running');
    return EXIT_OK;
  },
});
