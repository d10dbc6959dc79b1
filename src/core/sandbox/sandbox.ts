import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { deployArtifact } from '../backends/deployBackends';
import { buildProject } from '../phar/pharBuild';
import { readComposerJson } from '../config/composerJson';
import { parseRolloutConfig, ROLLOUT_FILE } from '../config/rolloutConfig';
import type { Group, RolloutConfig } from '../config/rolloutConfig';
import { InputError, OperationError, throwIfAborted } from '../errors';
import { run } from '../exec/process';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { renderFor } from '../traffic/apply';
import { freePort } from '../net/freePort';
import { nginxCommand, nginxMainConf, startNginx, stopNginx } from './nginxSandbox';
import { controlPhpBackend, isAlive, isGroupAlive, phpBackendCommand, readPid, stopGroup, writePhpBackendScript } from './phpServer';

/**
 * The sandbox: the sample app, two stable and one canary `php -S` backend and one nginx load
 * balancer, all on loopback ports of this machine, all under one folder. A dev/demo tool.
 *
 *   DIR/project/           a git copy of test/fixtures/sample-app with its rollout.json
 *   DIR/backends/<name>/   releases/, current, php.pid, php.log
 *   DIR/php-backend.sh     start/stop/restart one backend (the backends' restart hook)
 *   DIR/nginx/             nginx prefix: conf/nginx.conf, conf/upstream.conf (managed), logs/, temp/
 *   DIR/sandbox.json       what runs: names, ports, pid files
 */
export const SANDBOX_FILE = 'sandbox.json';
const BACKENDS: Array<{ name: string; group: Group }> = [
  { name: 'stable-1', group: 'stable' },
  { name: 'stable-2', group: 'stable' },
  { name: 'canary-1', group: 'canary' },
];
const LB_NAME = 'sandbox-lb';
const UPSTREAM = 'app';

export interface SandboxBackend {
  name: string;
  group: Group;
  url: string;
  port: number;
  dir: string;
  pidFile: string;
  pid?: number;
}

export interface SandboxInfo {
  /** "started" (new), "restarted" (some processes were not running) or "running" (nothing to do). */
  status: 'started' | 'restarted' | 'running';
  dir: string;
  project: string;
  lbUrl: string;
  backends: SandboxBackend[];
  nginx: { prefix: string; port: number; pid?: number };
  /** The artifact deployed to backends that had no release yet. */
  artifact?: string;
}

export interface SandboxUpOptions {
  dir: string;
  /** test/fixtures/sample-app. */
  fixtureDir: string;
  /** php/compile.php for the build. */
  compilerScript: string;
  /** Use this existing project instead of copying the fixture (its rollout.json is written only when missing). */
  project?: string;
  log?: Logger;
  signal?: AbortSignal;
}

async function readInfo(dir: string): Promise<SandboxInfo | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, SANDBOX_FILE), 'utf8')) as SandboxInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperationError(`${path.join(dir, SANDBOX_FILE)} is unreadable: ${(err as Error).message}`, { step: 'sandbox', file: dir });
  }
}

async function withPids(info: SandboxInfo): Promise<SandboxInfo> {
  const backends = await Promise.all(
    info.backends.map(async (b) => {
      const pid = await readPid(b.pidFile);
      return { ...b, pid: pid && isAlive(pid) ? pid : undefined };
    }),
  );
  const nginxPid = await readPid(path.join(info.nginx.prefix, 'logs', 'nginx.pid'));
  return { ...info, backends, nginx: { ...info.nginx, pid: nginxPid && isAlive(nginxPid) ? nginxPid : undefined } };
}

async function git(cwd: string, args: string[], signal?: AbortSignal): Promise<void> {
  await run('git', args, { cwd, signal, timeoutMs: 60000 });
}

/** Copies the fixture (without vendor/, .rollout/, build output) and makes it a git repo with one commit. */
async function copyFixture(fixtureDir: string, project: string): Promise<void> {
  if (!existsSync(path.join(fixtureDir, 'composer.json'))) {
    throw new InputError(`The sample app is not at ${fixtureDir}`, {
      hint: 'Run the sandbox from a checkout of phar-rollout (it ships test/fixtures/sample-app).',
    });
  }
  const skip = new Set(['vendor', '.rollout', 'build', '.git']);
  await fs.cp(fixtureDir, project, {
    recursive: true,
    filter: (src) => !skip.has(path.relative(fixtureDir, src).split(path.sep)[0]) && !src.endsWith('.phar'),
  });
}

/** The sandbox's rollout.json: absolute paths (the restart hooks need them anyway). */
function rolloutJson(dir: string, app: string, ports: Record<string, number>, lbPort: number, script: string): string {
  const prefix = path.join(dir, 'nginx');
  return (
    JSON.stringify(
      {
        app,
        backends: BACKENDS.map((b) => {
          const bdir = path.join(dir, 'backends', b.name);
          return {
            name: b.name,
            group: b.group,
            upstream: `127.0.0.1:${ports[b.name]}`,
            dir: bdir,
            probe: `http://127.0.0.1:${ports[b.name]}/__version`,
            restart: phpBackendCommand(script, 'restart', bdir, ports[b.name], `${app}.phar`),
          };
        }),
        loadBalancers: [
          {
            name: LB_NAME,
            file: path.join(prefix, 'conf', 'upstream.conf'),
            upstream: UPSTREAM,
            test: nginxCommand(prefix, '-t', '-q'),
            reload: nginxCommand(prefix, '-s', 'reload'),
            url: `http://127.0.0.1:${lbPort}/`,
          },
        ],
        traffic: { mode: 'weighted', steps: [10, 25, 50, 100] },
        // The gate samples the app's front page: /__version keeps answering while the app fails (see the sample's index.php).
        gates: { samples: 20, maxErrorRate: 0.05, maxP95Ms: 1000, autoRollback: true, path: '/' },
        probe: { timeoutMs: 2000, deployDeadlineMs: 20000 },
        deploy: { concurrency: 3 },
        keepReleases: 5,
      },
      null,
      2,
    ) + '\n'
  );
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** Makes (or finds) the project with its rollout.json; returns the parsed config. */
async function ensureProject(
  o: SandboxUpOptions,
  dir: string,
  project: string,
  existing: SandboxInfo | undefined,
  script: string,
): Promise<RolloutConfig> {
  const file = path.join(project, ROLLOUT_FILE);
  const ours = existing?.project === project;
  if (existsSync(file)) {
    if (!ours && o.project) {
      throw new InputError(`${file} already exists and is not a sandbox's`, {
        hint: 'The sandbox writes its own rollout.json; give a project without one, or no --project (a copy of the sample app).',
      });
    }
    return parseRolloutConfig(file, await fs.readFile(file, 'utf8'));
  }
  let fresh = false;
  if (!o.project) {
    if (!existsSync(path.join(project, 'composer.json'))) {
      await copyFixture(o.fixtureDir, project);
      fresh = true;
    }
  } else if (!existsSync(path.join(project, 'composer.json'))) {
    throw new InputError(`${project} has no composer.json`, { hint: 'Give the folder of a PHP project.' });
  }
  const app = (await readComposerJson(project)).shortName ?? 'app';
  const ports: Record<string, number> = {};
  for (const b of BACKENDS) ports[b.name] = await freePort();
  const lbPort = await freePort();
  await fs.writeFile(file, rolloutJson(dir, app, ports, lbPort, script));
  const isRepo = existsSync(path.join(project, '.git'));
  if (!isRepo) await git(project, ['init', '-q'], o.signal);
  if (!isRepo || fresh) {
    // A commit, so that builds carry one; identity given here so it works without a git config.
    await git(project, ['add', '-A'], o.signal);
    await git(
      project,
      [
        '-c',
        'user.name=Phar Rollout Sandbox',
        '-c',
        'user.email=sandbox@phar-rollout.invalid',
        'commit',
        '-q',
        '-m',
        'Sample app for the Phar Rollout sandbox',
      ],
      o.signal,
    );
  }
  return parseRolloutConfig(file, await fs.readFile(file, 'utf8'));
}

/**
 * Brings the sandbox up in `dir`: project (copy + git + rollout.json), build, nginx prefix, the
 * three php backends (a backend without a release gets the build deployed, which starts it; one
 * with a release is just started) and nginx at 0 % canary. Idempotent: on a running sandbox it
 * only reports; on a stopped one it restarts what is not running, keeping releases and split.
 */
export async function sandboxUp(o: SandboxUpOptions): Promise<SandboxInfo> {
  const log = o.log ?? nullLogger;
  const dir = path.resolve(o.dir);
  await fs.mkdir(dir, { recursive: true });
  const existing = await readInfo(dir);
  if (existing) {
    const live = await withPids(existing);
    if (live.backends.every((b) => b.pid) && live.nginx.pid) return { ...live, status: 'running' };
  }
  const project = path.resolve(o.project ?? existing?.project ?? path.join(dir, 'project'));
  const script = await writePhpBackendScript(dir);
  const config = await ensureProject(o, dir, project, existing, script);
  const lb = config.loadBalancers.find((l) => l.name === LB_NAME);
  if (!lb || !lb.url) throw new OperationError(`${config.file} has no load balancer "${LB_NAME}"`, { step: 'sandbox', file: config.file });
  throwIfAborted(o.signal);

  // Build (an unchanged project is not rebuilt).
  log.info(`sandbox: building ${project}`);
  const { artifact } = await buildProject({ projectDir: project, compilerScript: o.compilerScript, log, signal: o.signal });

  // nginx prefix: main config once; the managed file at 0 % only when missing (it carries the split).
  const prefix = path.join(dir, 'nginx');
  const lbPort = portOf(new URL(lb.url).host);
  for (const d of ['conf', 'logs', 'temp']) await fs.mkdir(path.join(prefix, d), { recursive: true });
  await fs.writeFile(
    path.join(prefix, 'conf', 'nginx.conf'),
    nginxMainConf({ port: lbPort, upstream: UPSTREAM, upstreamFile: lb.file, proxyPass: `$${UPSTREAM}_backend` }),
  );
  if (!existsSync(lb.file)) await fs.writeFile(lb.file, renderFor(config, lb, 0, new Date()));

  // Backends: start the ones that have a release, deploy the build to the others (starts them).
  const fresh: typeof config.backends = [];
  for (const b of config.backends) {
    throwIfAborted(o.signal);
    await fs.mkdir(b.dir, { recursive: true });
    if (existsSync(path.join(b.dir, 'current', 'release.json'))) {
      log.info(`sandbox: starting ${b.name}`);
      await controlPhpBackend(script, 'start', b.dir, portOf(b.upstream), artifact.phar, o.signal);
    } else fresh.push(b);
  }
  if (fresh.length) {
    log.info(`sandbox: deploying ${artifact.id} to ${fresh.map((b) => b.name).join(', ')}`);
    const { results } = await deployArtifact({ config, artifact, backends: fresh, log, signal: o.signal });
    const failed = results.filter((r) => !r.ok);
    if (failed.length)
      throw new OperationError(`sandbox: deploy failed: ${failed.map((r) => r.error).join('; ')}`, {
        step: failed[0].step,
        backend: failed[0].backend,
      });
  }
  log.info('sandbox: starting nginx');
  await startNginx(prefix, o.signal);

  const info: SandboxInfo = await withPids({
    status: existing ? 'restarted' : 'started',
    dir,
    project,
    lbUrl: lb.url,
    backends: config.backends.map((b) => ({
      name: b.name,
      group: b.group,
      url: `http://${b.upstream}/`,
      port: portOf(b.upstream),
      dir: b.dir,
      pidFile: path.join(b.dir, 'php.pid'),
    })),
    nginx: { prefix, port: lbPort },
    artifact: fresh.length ? artifact.id : undefined,
  });
  await fs.writeFile(path.join(dir, SANDBOX_FILE), JSON.stringify({ ...info, status: undefined }, null, 2) + '\n');
  return info;
}

export interface StoppedProcess {
  name: string;
  pid: number;
}

/**
 * Stops every process the sandbox in `dir` started (php backends by their pid files, whole
 * process groups; nginx by its pid file) and checks that each is gone. Removes nothing.
 */
export async function sandboxDown(o: { dir: string; log?: Logger }): Promise<{ stopped: StoppedProcess[] }> {
  const dir = path.resolve(o.dir);
  const info = await readInfo(dir);
  if (!info)
    throw new InputError(`No sandbox in ${dir} (no ${SANDBOX_FILE})`, { hint: 'Start one with `phar-rollout sandbox up --dir DIR`.' });
  const stopped: StoppedProcess[] = [];
  const errors: string[] = [];
  const nginxPid = await stopNginx(info.nginx.prefix).catch((err) => {
    errors.push((err as Error).message);
    return undefined;
  });
  if (nginxPid) stopped.push({ name: 'nginx', pid: nginxPid });
  for (const b of info.backends) {
    const pid = await readPid(b.pidFile);
    if (!pid) continue;
    if (!isAlive(pid) && !isGroupAlive(pid)) continue;
    try {
      await stopGroup(pid, `${b.name} (pid ${pid})`);
      await fs.rm(b.pidFile, { force: true });
      stopped.push({ name: b.name, pid });
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  for (const s of stopped) o.log?.info(`sandbox: stopped ${s.name} (pid ${s.pid})`);
  if (errors.length) throw new OperationError(`sandbox down: ${errors.join('; ')}`, { step: 'stop', file: dir });
  return { stopped };
}

/** Reads sandbox.json with live pids (undefined when `dir` holds no sandbox). */
export async function sandboxInfo(dir: string): Promise<SandboxInfo | undefined> {
  const info = await readInfo(path.resolve(dir));
  return info && withPids({ ...info, status: 'running' });
}
