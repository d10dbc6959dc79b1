/**
 * Probe benchmark: probing N backends at once against the slowest of them probed alone, measured
 * in the same run. Concurrency works when the ratio stays near 1.                 goal ≤ 2×
 *
 *   npx tsc -p tsconfig.test.json && node out/bench/probe.js [backends=50] [rounds=7]
 *
 * Two labs:
 * - "remote-like": N HTTP servers in a separate node process, each answering /__version after its
 *   own fixed delay (5–60 ms, like hosts at different network distances). This isolates what the
 *   prober adds: the backends cost no CPU here, as remote hosts would not.
 * - "php here": N real `php -S` backends (1 worker each) serving a phar on this machine. Here all
 *   N answer on the same 2 cores, so the ratio measures this machine's CPU as much as the prober.
 *
 * Prints medians and ratios; the goal is reported, not enforced (not a CI gate).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeAll, probeVersion } from '../src/core/backends/probe';
import { buildTestPhar, preparePhpBackend } from '../test/helpers/phpBackend';
import type { PhpBackend } from '../test/helpers/phpBackend';

const N = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 7);

const SERVERS = `
const http = require('http');
const n = Number(process.argv[1]);
const ports = [];
let ready = 0;
for (let i = 0; i < n; i++) {
  const delay = 5 + Math.round((55 * i) / Math.max(1, n - 1));
  const s = http.createServer((req, res) => setTimeout(() => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('x-app-version', '1.0.0');
    res.end(JSON.stringify({ version: '1.0.0', commit: 'abc1234', delay }));
  }, delay));
  s.listen(0, '127.0.0.1', () => {
    ports[i] = s.address().port;
    if (++ready === n) process.stdout.write(JSON.stringify(ports) + '\\n');
  });
}
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function measure(label: string, urls: string[], note = ''): Promise<number> {
  // Warm-up (DNS-free loopback, but JIT and first connections).
  await probeAll(urls, { timeoutMs: 5000 });
  const singles: number[] = [];
  const concurrent: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let slowest = 0;
    for (const u of urls) {
      const t0 = performance.now();
      const p = await probeVersion(u, { timeoutMs: 5000 });
      if (!p.ok) throw new Error(`${u}: ${p.error?.message}`);
      slowest = Math.max(slowest, performance.now() - t0);
    }
    singles.push(slowest);
    const t0 = performance.now();
    const all = await probeAll(urls, { timeoutMs: 5000 });
    concurrent.push(performance.now() - t0);
    const bad = all.filter((p) => !p.ok);
    if (bad.length) throw new Error(`${bad.length} probes failed: ${bad[0].error?.message}`);
  }
  const ratio = median(concurrent) / median(singles);
  console.log(
    `${label.padEnd(12)} ${urls.length} backends: all at once ${median(concurrent).toFixed(1)} ms, slowest alone ${median(singles).toFixed(1)} ms → ratio ${ratio.toFixed(2)}× (goal ≤ 2×) ${ratio <= 2 ? 'OK' : 'MISSED'}${note}`,
  );
  return ratio;
}

async function remoteLike(): Promise<void> {
  const child = spawn(process.execPath, ['-e', SERVERS, String(N)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const ports = await new Promise<number[]>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf) as number[]);
      });
      child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
    });
    await measure(
      'remote-like',
      ports.map((p) => `http://127.0.0.1:${p}/__version`),
    );
  } finally {
    child.kill();
  }
}

async function phpHere(): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-bench-probe-'));
  const backends: PhpBackend[] = [];
  process.env.PHP_CLI_SERVER_WORKERS = '1';
  try {
    const artifact = await buildTestPhar({ dir: path.join(tmp, 'artifacts'), version: '1.0.0' });
    for (let i = 0; i < N; i++) {
      const b = await preparePhpBackend({ dir: path.join(tmp, `b${i}`) });
      const rel = path.join(b.dir, 'releases', artifact.id);
      await fs.mkdir(rel, { recursive: true });
      await fs.copyFile(artifact.pharPath, path.join(rel, 'app.phar'));
      await fs.symlink(`releases/${artifact.id}`, path.join(b.dir, 'current'));
      backends.push(b);
      await b.start();
    }
    await measure(
      'php here',
      backends.map((b) => b.probe),
      ` (all ${N} servers answer on these ${os.cpus().length} CPUs: bound by this machine, not by the prober)`,
    );
  } finally {
    for (const b of backends) await b.stop().catch((e) => console.error(String(e)));
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`probe bench: ${N} backends, ${ROUNDS} rounds, medians (${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)})`);
  await remoteLike();
  await phpHere();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
