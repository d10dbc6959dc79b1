/**
 * A real nginx load balancer on a loopback port, as a user process with its own prefix.
 *
 *   const lb = await startNginx({ dir, servers: ['127.0.0.1:8001', '127.0.0.1:8002'] });
 *   // lb.url, lb.upstreamFile (the managed include), lb.test / lb.reload (argument arrays)
 *   after(() => lb.stop());
 *
 * The main config includes `upstreamFile` and proxies `/` to upstream `lb.upstream`
 * (see src/core/sandbox/nginxSandbox.ts, the same files the sandbox uses).
 */
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { nginxCommand, startNginx as start, stopNginx, writeNginxPrefix } from '../../src/core/sandbox/nginxSandbox';
import type { UpstreamServer } from '../../src/core/sandbox/nginxSandbox';
import { freePort } from '../../src/core/net/freePort';

export interface NginxServer {
  prefix: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Upstream name the server block proxies to. */
  upstream: string;
  confFile: string;
  /** The managed include file. */
  upstreamFile: string;
  /** `nginx -p PREFIX -c conf/nginx.conf -t -q` as an argument array (an LB's `test`). */
  test: string[];
  /** `... -s reload` (an LB's `reload`). */
  reload: string[];
  pid: number;
  /** Runs `reload` (after you rewrote upstreamFile). */
  reloadNow(): Promise<void>;
  /** Stops nginx and waits until the master is gone; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts nginx in `<dir>/nginx` (or `prefix`) with an upstream of `servers` (host:port). */
export async function startNginx(o: {
  dir: string;
  servers: Array<string | UpstreamServer>;
  upstream?: string;
  port?: number;
  prefix?: string;
}): Promise<NginxServer> {
  const port = o.port ?? (await freePort());
  const upstream = o.upstream ?? 'app';
  const prefix = path.resolve(o.prefix ?? path.join(o.dir, 'nginx'));
  const servers = o.servers.map((s) => (typeof s === 'string' ? { address: s } : s));
  const p = await writeNginxPrefix({ prefix, port, upstream, servers });
  const pid = await start(prefix);
  const reload = nginxCommand(prefix, '-s', 'reload');
  return {
    prefix,
    port,
    url: `http://127.0.0.1:${port}`,
    upstream,
    confFile: p.confFile,
    upstreamFile: p.upstreamFile,
    test: nginxCommand(prefix, '-t', '-q'),
    reload,
    pid,
    reloadNow: async () => {
      await run(reload[0], reload.slice(1), { timeoutMs: 10000 });
    },
    stop: async () => {
      await stopNginx(prefix);
    },
  };
}
