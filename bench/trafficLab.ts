/**
 * A traffic lab on loopback for the traffic/rollout integration tests and bench/traffic.ts:
 * php backends (2 stable + 1 canary by default) serving real phars, and one or more real nginx
 * load balancers whose managed include file Phar Rollout owns, plus a project folder with a
 * rollout.json describing all of it.
 *
 *   const lab = await startLab({ lbs: 2 });
 *   try { await ramp(lab.config, { percent: 25 }, { gate: false }); } finally { await lab.stop(); }
 *
 * Everything lives in one temp folder; stop() stops every process (also after a failure midway)
 * and removes the folder.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Artifact } from '../src/core/phar/artifact';
import { deployArtifact } from '../src/core/backends/deployBackends';
import { readRolloutConfig } from '../src/core/config/rolloutConfig';
import type { RolloutConfig } from '../src/core/config/rolloutConfig';
import { run } from '../src/core/exec/process';
import { nginxCommand, startNginx, stopNginx, writeNginxPrefix } from '../src/core/sandbox/nginxSandbox';
import { renderFor } from '../src/core/traffic/apply';
import { buildTestPhar, preparePhpBackend } from '../test/helpers/phpBackend';
import type { PhpBackend } from '../test/helpers/phpBackend';
import { freePort } from '../src/core/net/freePort';

export interface LabLb {
  name: string;
  prefix: string;
  port: number;
  url: string;
  confFile: string;
  upstreamFile: string;
  test: string[];
  reload: string[];
}

export interface LabOptions {
  /** Number of load balancers (default 1). */
  lbs?: number;
  stable?: number;
  canary?: number;
  /** Extra rollout.json fields (traffic, gates, …), merged over the lab's. */
  rollout?: Record<string, unknown>;
  /** Per-LB overrides of the rollout.json entry (index → fields). */
  lbOverrides?: Record<number, Record<string, unknown>>;
  /** Artifacts for stable and canary (default: small test phars 1.0.0 and 2.0.0). */
  artifacts?: { stable: Artifact; canary: Artifact };
  /** Project folder (default <tmp>/project). */
  projectDir?: string;
}

export interface Lab {
  tmp: string;
  projectDir: string;
  config: RolloutConfig;
  backends: Map<string, PhpBackend>;
  lbs: LabLb[];
  stableVersion: string;
  canaryVersion: string;
  /** Rewrites rollout.json with `patch` merged in and re-reads it. */
  reconfigure(patch: Record<string, unknown>): Promise<RolloutConfig>;
  stop(): Promise<void>;
}

/** Starts the lab: builds/deploys the phars, then starts nginx on a 0 % file rendered by Phar Rollout. */
export async function startLab(o: LabOptions = {}): Promise<Lab> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'traffic-lab-'));
  const backends = new Map<string, PhpBackend>();
  const lbs: LabLb[] = [];
  const stop = async () => {
    const errors: unknown[] = [];
    await Promise.all(lbs.map((lb) => stopNginx(lb.prefix).catch((e) => errors.push(e))));
    await Promise.all([...backends.values()].map((b) => b.stop().catch((e) => errors.push(e))));
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (errors.length) throw errors[0];
  };
  try {
    const projectDir = o.projectDir ?? path.join(tmp, 'project');
    await fs.mkdir(projectDir, { recursive: true });
    const artifacts =
      o.artifacts ??
      (await (async () => {
        const dir = path.join(tmp, 'artifacts');
        const [stable, canary] = await Promise.all([buildTestPhar({ dir, version: '1.0.0' }), buildTestPhar({ dir, version: '2.0.0' })]);
        return { stable, canary };
      })());
    const entries: Array<Record<string, unknown>> = [];
    for (const [group, count] of [
      ['stable', o.stable ?? 2],
      ['canary', o.canary ?? 1],
    ] as const) {
      for (let i = 1; i <= count; i++) {
        const name = `${group}-${i}`;
        const b = await preparePhpBackend({ dir: path.join(tmp, 'backends', name), phar: artifacts.stable.phar });
        backends.set(name, b);
        entries.push({ name, group, upstream: b.upstream, dir: b.dir, probe: b.probe, restart: b.restart });
      }
    }
    const lbEntries: Array<Record<string, unknown>> = [];
    for (let i = 0; i < (o.lbs ?? 1); i++) {
      const prefix = path.join(tmp, `lb-${i + 1}`);
      const port = await freePort();
      const p = await writeNginxPrefix({ prefix, port, upstream: 'app', servers: [] });
      const lb: LabLb = {
        name: `lb-${i + 1}`,
        prefix,
        port,
        url: `http://127.0.0.1:${port}`,
        confFile: p.confFile,
        upstreamFile: p.upstreamFile,
        test: nginxCommand(prefix, '-t', '-q'),
        reload: nginxCommand(prefix, '-s', 'reload'),
      };
      lbs.push(lb);
      lbEntries.push({
        name: lb.name,
        file: lb.upstreamFile,
        upstream: 'app',
        test: lb.test,
        reload: lb.reload,
        url: `${lb.url}/`,
        // Its own free port: the derived default could collide between labs running at once.
        status: `127.0.0.1:${await freePort()}`,
        ...(o.lbOverrides?.[i] ?? {}),
      });
    }
    let raw: Record<string, unknown> = {
      app: artifacts.stable.app,
      backends: entries,
      loadBalancers: lbEntries,
      gates: { samples: 20, maxErrorRate: 0.01, maxP95Ms: 800, autoRollback: true, path: '/' },
      probe: { timeoutMs: 2000, deployDeadlineMs: 20000 },
      ...(o.rollout ?? {}),
    };
    const write = async () => {
      await fs.writeFile(path.join(projectDir, 'rollout.json'), JSON.stringify(raw, null, 2));
      const c = await readRolloutConfig(projectDir);
      if (!c) throw new Error('rollout.json vanished');
      return c;
    };
    let config = await write();

    const stable = config.backends.filter((b) => b.group === 'stable');
    const canary = config.backends.filter((b) => b.group === 'canary');
    const deployed = await Promise.all([
      deployArtifact({ config, backends: stable, artifact: artifacts.stable }),
      deployArtifact({ config, backends: canary, artifact: artifacts.canary }),
    ]);
    const failed = deployed.flatMap((d) => d.results).filter((r) => !r.ok);
    if (failed.length) throw new Error(`lab deploy failed: ${failed.map((f) => f.error).join('; ')}`);

    // nginx starts on Phar Rollout's own 0 % file; the server block proxies to $app_backend, which the
    // managed file defines in both modes.
    for (const [i, lb] of lbs.entries()) {
      await fs.writeFile(lb.upstreamFile, renderFor(config, config.loadBalancers[i], 0, new Date()));
      const conf = await fs.readFile(lb.confFile, 'utf8');
      await fs.writeFile(lb.confFile, conf.replace(/proxy_pass http:\/\/app;/, 'proxy_pass http://$app_backend;'));
      await startNginx(lb.prefix);
    }
    const lab: Lab = {
      tmp,
      projectDir,
      config,
      backends,
      lbs,
      stableVersion: artifacts.stable.version,
      canaryVersion: artifacts.canary.version,
      reconfigure: async (patch) => {
        raw = { ...raw, ...patch };
        config = await write();
        lab.config = config;
        return config;
      },
      stop,
    };
    return lab;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** Worker pids of the nginx running in `prefix`, sorted. */
export async function nginxWorkers(prefix: string): Promise<string[]> {
  const pid = (await fs.readFile(path.join(prefix, 'logs', 'nginx.pid'), 'utf8')).trim();
  const r = await run('pgrep', ['-P', pid], { allowFailure: true });
  return r.stdout.trim().split('\n').filter(Boolean).sort();
}

/**
 * Waits until the nginx in `prefix` runs one worker that was not among `before`: `nginx -s reload`
 * only signals the master, and the new configuration is live once the new worker runs and the old
 * ones have exited.
 */
export async function waitReloaded(prefix: string, before: readonly string[], timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await nginxWorkers(prefix);
    if (now.length === 1 && !before.includes(now[0])) return;
    if (Date.now() > deadline)
      throw new Error(`nginx in ${prefix} did not finish reloading within ${timeoutMs} ms (workers ${now.join(', ')})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Runs an nginx command of the lab by hand (the baseline the bench compares with). */
export async function nginxByHand(args: readonly string[]): Promise<void> {
  await run(args[0], args.slice(1), { timeoutMs: 15000 });
}

/**
 * A logging ssh wrapper: an executable that appends one line per invocation to `log`, then execs the
 * real ssh. Pass its path as SshOptions.sshPath and count the lines: ssh round trips, not time.
 */
export async function loggingSsh(dir: string): Promise<{ sshPath: string; log: string; count(): Promise<number>; reset(): Promise<void> }> {
  await fs.mkdir(dir, { recursive: true });
  const sshPath = path.join(dir, 'ssh-logged');
  const log = path.join(dir, 'ssh-calls.log');
  // One line per invocation; control commands (-O check/exit) talk to the local master only.
  const script = `#!/bin/sh\nfor a in "$@"; do [ "$a" = -O ] && exec ssh "$@"; done\necho call >> '${log}'\nexec ssh "$@"\n`;
  await fs.writeFile(sshPath, script, { mode: 0o755 });
  return {
    sshPath,
    log,
    count: async () => (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
    reset: () => fs.writeFile(log, ''),
  };
}
