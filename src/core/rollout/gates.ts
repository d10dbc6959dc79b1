import * as http from 'node:http';
import * as https from 'node:https';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, throwIfAborted } from '../errors';
import type { GateResult, GroupSample } from './types';

/** One HTTP answer (or failure) as a gate or verify-split sees it. */
export interface Sample {
  ok: boolean;
  status?: number;
  latencyMs: number;
  /** X-App-Version header, else the JSON body's `version`. */
  version?: string;
  error?: string;
}

/**
 * GETs `url` once on a fresh connection and measures it; never throws except CancelledError.
 * ok = status 2xx/3xx within `timeoutMs`.
 */
export function sample(
  url: string,
  options: { timeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string>; agent?: http.Agent } = {},
): Promise<Sample> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  return new Promise<Sample>((resolve, reject) => {
    if (options.signal?.aborted) return reject(new CancelledError());
    let settled = false;
    const done = (s: Omit<Sample, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ ...s, latencyMs: elapsed() });
    };
    const onAbort = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new CancelledError());
    };
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: options.agent ?? false, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65536) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let version = typeof res.headers['x-app-version'] === 'string' ? res.headers['x-app-version'] : undefined;
        if (!version) {
          try {
            const v = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version?: unknown }).version;
            if (typeof v === 'string') version = v;
          } catch {
            // not JSON: no version
          }
        }
        const ok = status >= 200 && status < 400;
        done({ ok, status, version, error: ok ? undefined : `HTTP ${status}` });
      });
      res.on('error', (err) => done({ ok: false, status: res.statusCode, error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message }));
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: `timeout after ${timeoutMs} ms` });
    }, timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Nearest-rank percentile of `values` (0 for none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** The URL a gate probes on a backend: gates.path on its upstream, else its probe URL, else "/". */
export function gateUrl(backend: Pick<BackendConfig, 'upstream' | 'probe'>, gatePath?: string): string {
  if (gatePath) return `http://${backend.upstream}${gatePath}`;
  return backend.probe ?? `http://${backend.upstream}/`;
}

/** Sends `samples` requests spread over `backends` (round robin, `concurrency` at a time). */
export async function sampleGroup(
  backends: ReadonlyArray<Pick<BackendConfig, 'upstream' | 'probe'>>,
  samples: number,
  options: { path?: string; timeoutMs?: number; signal?: AbortSignal; concurrency?: number },
): Promise<GroupSample> {
  const urls = backends.map((b) => gateUrl(b, options.path));
  const results: Sample[] = [];
  let next = 0;
  const worker = async () => {
    while (next < samples) {
      const i = next++;
      throwIfAborted(options.signal);
      results.push(await sample(urls[i % urls.length], { timeoutMs: options.timeoutMs, signal: options.signal }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(samples, options.concurrency ?? 4) }, worker));
  const errors = results.filter((r) => !r.ok);
  return {
    samples: results.length,
    errors: errors.length,
    errorRate: results.length ? errors.length / results.length : 0,
    p95Ms: percentile(
      results.map((r) => r.latencyMs),
      95,
    ),
    errorExamples: [...new Set(errors.map((e) => e.error ?? 'error'))].slice(0, 3),
  };
}

/**
 * The gate after a step: `gates.samples` requests to the canary backends (and as many to the stable
 * ones, to compare). Passes when the canary's error rate ≤ maxErrorRate and its p95 ≤ maxP95Ms.
 */
export async function runGate(
  config: Pick<RolloutConfig, 'backends' | 'gates' | 'probe'>,
  options: { signal?: AbortSignal } = {},
): Promise<GateResult> {
  const g = config.gates;
  const canary = config.backends.filter((b) => b.group === 'canary');
  const stable = config.backends.filter((b) => b.group === 'stable');
  const common = { path: g.path, timeoutMs: Math.max(config.probe.timeoutMs, Math.ceil(g.maxP95Ms * 2)), signal: options.signal };
  const [c, s] = await Promise.all([
    sampleGroup(canary, g.samples, common),
    stable.length ? sampleGroup(stable, g.samples, common) : Promise.resolve(undefined),
  ]);
  const reasons: string[] = [];
  const pct = (x: number) => `${Math.round(x * 10000) / 100} %`;
  if (c.errorRate > g.maxErrorRate)
    reasons.push(
      `canary error rate ${pct(c.errorRate)} (${c.errors}/${c.samples}${c.errorExamples.length ? `: ${c.errorExamples.join(', ')}` : ''}) > ${pct(g.maxErrorRate)}`,
    );
  if (c.p95Ms > g.maxP95Ms) reasons.push(`canary p95 ${Math.round(c.p95Ms)} ms > ${g.maxP95Ms} ms`);
  if (reasons.length && s) reasons.push(`stable: ${pct(s.errorRate)} errors, p95 ${Math.round(s.p95Ms)} ms`);
  return {
    pass: reasons.length === 0,
    reason: reasons.length ? reasons.join('; ') : undefined,
    canary: c,
    stable: s,
    limits: { maxErrorRate: g.maxErrorRate, maxP95Ms: g.maxP95Ms },
    time: new Date().toISOString(),
  };
}
