import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { OperationError } from '../errors';
import { run } from '../exec/process';
import { isAlive, readPid } from './phpServer';

/** An nginx that runs as a user process with everything (pid, logs, temp) inside its prefix. */
export interface NginxPrefix {
  prefix: string;
  /** conf/nginx.conf */
  confFile: string;
  /** conf/upstream.conf: the managed include file (Phar Rollout owns all of it). */
  upstreamFile: string;
  pidFile: string;
  port: number;
  upstream: string;
}

export interface UpstreamServer {
  address: string;
  weight?: number;
}

/** `nginx -p PREFIX -c conf/nginx.conf …extra`: validate with `-t -q`, reload with `-s reload`. */
export function nginxCommand(prefix: string, ...extra: string[]): string[] {
  return ['nginx', '-p', prefix, '-c', 'conf/nginx.conf', ...extra];
}

/**
 * The main config: listens on loopback, includes the managed upstream file, proxies to it.
 * `proxyPass` is the target after http:// (default: the upstream name; the traffic renderer's
 * files also define `$<upstream>_backend`, which works in weighted and sticky mode alike).
 */
export function nginxMainConf(p: { port: number; upstream: string; upstreamFile: string; proxyPass?: string }): string {
  return `# phar-rollout sandbox load balancer. Start: nginx -p PREFIX -c conf/nginx.conf
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
    # No access_log here: "off" would also silence the managed file's analysis log at this level.
    client_body_temp_path temp/client_body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;

    # The managed file: Phar Rollout rewrites all of it (split, servers), tests it, reloads.
    include ${p.upstreamFile};

    server {
        listen 127.0.0.1:${p.port};
        location / {
            # Weighted mode needs only the upstream name; sticky mode (two upstreams, split_clients
            # and the force maps in the managed file) needs the variable the file defines:
            #   proxy_pass http://$${p.upstream}_backend;
            proxy_pass http://${p.proxyPass ?? p.upstream};
            # A backend restarting for a deploy refuses connections for a moment: try the next one.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
    }
}
`;
}

/**
 * A weighted upstream with only the given (stable) servers: 0 % canary. `max_fails=0` because a
 * rolling restart would otherwise mark servers down one after the other until nginx answers
 * "no live upstreams" (502) while every server is in fact up again.
 */
export function initialUpstreamConf(upstream: string, servers: readonly UpstreamServer[]): string {
  return [
    `# phar-rollout managed upstream: split 0% canary (sandbox initial file), ${new Date().toISOString()}`,
    `upstream ${upstream} {`,
    ...servers.map((s) => `    server ${s.address} weight=${s.weight ?? 1} max_fails=0;`),
    '}',
    '',
  ].join('\n');
}

/** Creates the prefix (conf, logs, temp) with the main config and an initial upstream file. */
export async function writeNginxPrefix(p: {
  prefix: string;
  port: number;
  upstream: string;
  servers: readonly UpstreamServer[];
}): Promise<NginxPrefix> {
  const prefix = path.resolve(p.prefix);
  for (const d of ['conf', 'logs', 'temp']) await fs.mkdir(path.join(prefix, d), { recursive: true });
  const confFile = path.join(prefix, 'conf', 'nginx.conf');
  const upstreamFile = path.join(prefix, 'conf', 'upstream.conf');
  await fs.writeFile(upstreamFile, initialUpstreamConf(p.upstream, p.servers));
  await fs.writeFile(confFile, nginxMainConf({ port: p.port, upstream: p.upstream, upstreamFile }));
  return { prefix, confFile, upstreamFile, pidFile: path.join(prefix, 'logs', 'nginx.pid'), port: p.port, upstream: p.upstream };
}

/** Tests the config, starts nginx (it daemonizes) and returns the master pid once it is written. */
export async function startNginx(prefix: string, signal?: AbortSignal): Promise<number> {
  const pidFile = path.join(prefix, 'logs', 'nginx.pid');
  const running = await readPid(pidFile);
  if (running && isAlive(running)) return running;
  const [cmd, ...test] = nginxCommand(prefix, '-t', '-q');
  await run(cmd, test, { signal, timeoutMs: 15000 });
  const [, ...start] = nginxCommand(prefix);
  await run(cmd, start, { signal, timeoutMs: 15000 });
  // The master writes its pid file after forking; `nginx` returns once the daemon is up.
  const deadline = Date.now() + 5000;
  for (;;) {
    const pid = await readPid(pidFile);
    if (pid && isAlive(pid)) return pid;
    if (Date.now() > deadline) throw new OperationError(`nginx in ${prefix} did not write ${pidFile}`, { step: 'start', command: 'nginx' });
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Stops the nginx of `prefix` by its pid: QUIT (graceful), then TERM, then KILL; resolves once
 * the master is gone. Returns the pid it stopped, or undefined when none ran.
 */
export async function stopNginx(prefix: string): Promise<number | undefined> {
  const pid = await readPid(path.join(prefix, 'logs', 'nginx.pid'));
  if (!pid || !isAlive(pid)) return undefined;
  await stopPid(pid, ['SIGQUIT', 'SIGTERM', 'SIGKILL'], `nginx (pid ${pid})`);
  return pid;
}

/** Sends each signal in turn, waiting up to 3 s for the process to go; throws if it stays. */
export async function stopPid(pid: number, signals: NodeJS.Signals[], what: string, group = false): Promise<void> {
  for (const sig of signals) {
    try {
      process.kill(group ? -pid : pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw err;
    }
    const deadline = Date.now() + 3000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!isAlive(pid)) return;
  }
  throw new OperationError(`${what} does not stop`, { step: 'stop', command: what });
}
