/**
 * Analysis benchmark: read and judge a 1,000,000-line phar_rollout access log, against awk (+ sort)
 * computing the same per-side attempts, errors and p95 in the same run. Our side runs in a child
 * process so its peak memory (maxRSS) is its own.
 *
 *   npx tsc -p tsconfig.test.json && node out/bench/analysis.js [lines=1000000]
 *
 * Prints both timings, the ratio (goal ≤ 2×) and our peak RSS (goal < 100 MB); exits non-zero when
 * the two disagree on a figure.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveAnalysisConfig, errorStatusTest } from '../src/core/analysis/analysisConfig';
import { Attributor } from '../src/core/analysis/attribution';
import { judgeWindow } from '../src/core/analysis/judge';
import { AccessLogReader, LocalLogSource } from '../src/core/analysis/logReader';
import { Window } from '../src/core/analysis/metrics';
import type { AccessLogEntry } from '../src/core/analysis/accessLog';

const STABLE = ['10.0.0.10:8000', '10.0.0.11:8000'];
const CANARY = '10.0.0.20:8000';
const BACKENDS = [
  { name: 'web-1', group: 'stable' as const, upstream: STABLE[0] },
  { name: 'web-2', group: 'stable' as const, upstream: STABLE[1] },
  { name: 'canary-1', group: 'canary' as const, upstream: CANARY },
];
const PATHS = ['/', '/checkout', '/api/items', '/api/items/42', '/login', '/static/app.css'];

/** Deterministic pseudo-random numbers (mulberry32), so every run analyses the same log. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function generate(file: string, lines: number): Promise<void> {
  const r = rng(42);
  const out = createWriteStream(file);
  let t = 1764661200;
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  let buf = '';
  for (let i = 0; i < lines; i++) {
    t += 0.0005;
    const p = PATHS[Math.floor(r() * PATHS.length)];
    const canary = r() < 0.1;
    const lat = Math.floor(-Math.log(1 - r()) * (canary ? 40 : 30)) + 2;
    let addr: string;
    let ustatus: string;
    let utime: string;
    let status: string;
    if (canary && p === '/checkout' && r() < 0.05) {
      // canary fails, nginx retries on stable
      addr = `${CANARY}, ${STABLE[i % 2]}`;
      ustatus = '500, 200';
      utime = `${secs(lat)}, ${secs(lat + 3)}`;
      status = '200';
    } else if (!canary && r() < 0.002) {
      addr = STABLE[i % 2];
      ustatus = r() < 0.5 ? '502' : '-';
      utime = ustatus === '-' ? '-' : secs(lat);
      status = '502';
    } else {
      addr = canary ? CANARY : STABLE[i % 2];
      ustatus = '200';
      utime = secs(lat);
      status = '200';
    }
    buf +=
      `{"msec":"${t.toFixed(3)}","upstream_addr":"${addr}","upstream_status":"${ustatus}","upstream_response_time":"${utime}",` +
      `"status":"${status}","request_time":"${secs(lat + 1)}","method":"GET","uri":"${p}"}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((res, rej) => out.end((err?: Error | null) => (err ? rej(err) : res())));
}

interface Figures {
  canary: { requests: number; errors: number; p95: number };
  stable: { requests: number; errors: number; p95: number };
}

/** Our side: stream the file in chunks through reader → window → judge; entries are not kept. */
async function analyse(file: string): Promise<Figures & { ms: number; maxRssMb: number; verdict: string; unparsable: number }> {
  const started = process.hrtime.bigint();
  const reader = new AccessLogReader(new LocalLogSource(file), { startAt: 'start' });
  const w = new Window(new Attributor(BACKENDS), { isError: errorStatusTest(['5xx']) });
  let unparsable = 0;
  const onEntry = (e: AccessLogEntry) => w.add(e);
  for (;;) {
    const r = await reader.read({ onEntry });
    unparsable += r.unparsable;
    if (!r.more) break;
  }
  const v = judgeWindow(w.canary, w.stable, resolveAnalysisConfig());
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    canary: { requests: v.canary.requests, errors: v.canary.errors, p95: v.canary.p95Ms ?? -1 },
    stable: { requests: v.stable.requests, errors: v.stable.errors, p95: v.stable.p95Ms ?? -1 },
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    verdict: v.result,
    unparsable,
  };
}

/** The baseline: one awk pass (counts, latencies to one file per side), then sort -n for p95. */
const AWK = `BEGIN { side["${STABLE[0]}"] = "stable"; side["${STABLE[1]}"] = "stable"; side["${CANARY}"] = "canary" }
{
  split($0, f, "\\"")
  n = split(f[8], a, /, | : /); split(f[12], s, /, | : /); split(f[16], t, /, | : /)
  for (i = 1; i <= n; i++) {
    sd = side[a[i]]; if (sd == "") continue
    req[sd]++
    if (s[i] == "-" || s[i] ~ /^5/) err[sd]++
    if (t[i] != "-") print int(t[i] * 1000 + 0.5) > (dir "/" sd ".lat")
  }
}
END { for (k in req) print k, req[k], err[k] + 0 }`;

function baseline(file: string, dir: string): Figures & { ms: number } {
  const script = `set -e
awk -v dir="$2" "$1" "$3" > "$2/counts"
for s in canary stable; do
  n=$(wc -l < "$2/$s.lat"); k=$(( (n * 95 + 99) / 100 ))
  echo "$s p95 $(sort -n "$2/$s.lat" | sed -n "\${k}p")"
done
cat "$2/counts"`;
  const started = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', script, 'sh', AWK, dir, file], { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
  const fig: Figures = { canary: { requests: 0, errors: 0, p95: 0 }, stable: { requests: 0, errors: 0, p95: 0 } };
  for (const line of r.stdout.trim().split('\n')) {
    const [s, a, b] = line.split(' ') as ['canary' | 'stable', string, string];
    if (a === 'p95') fig[s].p95 = Number(b);
    else Object.assign(fig[s], { requests: Number(a), errors: Number(b) });
  }
  return { ...fig, ms };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--analyse') {
    process.stdout.write(JSON.stringify(await analyse(process.argv[3])));
    return;
  }
  const lines = Number(process.argv[2] ?? 1_000_000);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-bench-analysis-'));
  try {
    const file = path.join(dir, 'access.log');
    await generate(file, lines);
    const size = (await fs.stat(file)).size;
    const awkVersion = spawnSync('sh', ['-c', 'awk -W version 2>/dev/null | head -1 || awk --version | head -1'], {
      encoding: 'utf8',
    }).stdout.trim();
    const rounds = 3;
    const ours: Array<Awaited<ReturnType<typeof analyse>>> = [];
    const theirs: Array<ReturnType<typeof baseline>> = [];
    for (let i = 0; i < rounds; i++) {
      const child = spawnSync(process.execPath, [__filename, '--analyse', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (child.status !== 0) throw new Error(`analysis failed: ${child.stderr}`);
      ours.push(JSON.parse(child.stdout) as Awaited<ReturnType<typeof analyse>>);
      theirs.push(baseline(file, dir));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const o = ours[0];
    const b = theirs[0];
    const same = (['canary', 'stable'] as const).every(
      (s) => o[s].requests === b[s].requests && o[s].errors === b[s].errors && o[s].p95 === b[s].p95,
    );
    const oursMs = median(ours.map((x) => x.ms));
    const awkMs = median(theirs.map((x) => x.ms));
    console.log(`access log: ${lines} lines, ${(size / 1e6).toFixed(1)} MB; baseline: ${awkVersion || 'awk'} + sort -n`);
    console.log(
      `ours:     ${oursMs.toFixed(0)} ms (median of ${rounds}), peak RSS ${Math.max(...ours.map((x) => x.maxRssMb)).toFixed(1)} MB, verdict ${o.verdict}`,
    );
    console.log(`awk+sort: ${awkMs.toFixed(0)} ms (median of ${rounds})`);
    console.log(`ratio ours/awk: ${(oursMs / awkMs).toFixed(2)}× (goal ≤ 2×)`);
    console.log(`figures ours:  ${JSON.stringify({ canary: o.canary, stable: o.stable })}`);
    console.log(`figures awk:   ${JSON.stringify({ canary: b.canary, stable: b.stable })}`);
    if (!same) {
      console.error('ours and awk disagree');
      process.exitCode = 1;
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
