/**
 * A steady request stream for "no request lost" tests. Bounded: it stops by itself after
 * `maxRequests` or `maxDurationMs`, whichever comes first, or when stop() is called.
 *
 *   const load = startLoad({ url: lb.url + '/__version', concurrency: 4 });
 *   await deploy(...);
 *   const r = await load.stop();   // r.failures must be empty; r.versions counts answers per version
 *
 * Every request uses a fresh connection (no keep-alive), so each connection error is a real
 * failure (a closed idle keep-alive after an nginx reload cannot be mistaken for one) and
 * counts, as does every non-2xx status, every reset and every timeout.
 *
 * Mixed load: give `requests` (method, path, body) and each worker walks the list from its own
 * offset, e.g. GET /, POST / with a body, GET /slow (a slow path): nginx never resends a POST it
 * has sent, so a POST in flight on a backend that goes away is a failure the test sees.
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';

export interface LoadOptions {
  url: string;
  /** Requests in flight at once. Default 4. */
  concurrency?: number;
  /** Default 100000. */
  maxRequests?: number;
  /** Default 30000. */
  maxDurationMs?: number;
  /** Per request. Default 5000. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** A mix of requests, each a path relative to `url`'s origin; default: GET `url`. */
  requests?: LoadRequest[];
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  /** Path and query, e.g. "/slow". */
  path: string;
  /** Sent with Content-Type application/x-www-form-urlencoded (POST). */
  body?: string;
}

export interface LoadFailure {
  /** Since the start of the run. */
  atMs: number;
  status?: number;
  error?: string;
  method?: string;
  path?: string;
}

export interface LoadResult {
  total: number;
  ok: number;
  failures: LoadFailure[];
  /** 2xx answers per version (X-App-Version header, else JSON `version`, else "?"). */
  versions: Record<string, number>;
  /** 2xx answers per build identity "version sha256[0..8]" (JSON `sha256`; "?" when absent). */
  builds: Record<string, number>;
  /** Requests per "METHOD path". */
  byRequest: Record<string, number>;
  /** Most requests in flight at once. */
  maxInFlight: number;
  durationMs: number;
  p50Ms: number;
  p95Ms: number;
}

export interface LoadRun {
  /** Resolves when the run ends by itself (limit reached) or after stop(). */
  done: Promise<LoadResult>;
  /** Lets requests in flight finish, starts no new one, and resolves with the result. */
  stop(): Promise<LoadResult>;
  /** Requests finished so far. */
  count(): number;
}

type Answer = { status?: number; version?: string; sha256?: string; error?: string };

function once(url: URL, headers: Record<string, string>, timeoutMs: number, request?: LoadRequest): Promise<Answer> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (r: Answer) => {
      if (!finished) {
        finished = true;
        resolve(r);
      }
    };
    const body = request?.body !== undefined ? Buffer.from(request.body) : undefined;
    const target = request ? new URL(request.path, url) : url;
    const req = http.request(
      target,
      {
        method: request?.method ?? 'GET',
        agent: false,
        headers: {
          connection: 'close',
          ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (text.length < 4096) text += c;
        });
        res.on('error', (err) => finish({ status: res.statusCode, error: err.message }));
        res.on('end', () => {
          let version = res.headers['x-app-version'] as string | undefined;
          let sha256: string | undefined;
          try {
            const json = JSON.parse(text) as { version?: unknown; sha256?: unknown };
            version ??= String(json.version ?? '') || undefined;
            sha256 = typeof json.sha256 === 'string' ? json.sha256 : undefined;
          } catch {
            // not JSON
          }
          finish({ status: res.statusCode, version, sha256 });
        });
      },
    );
    req.end(body);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: `${err.code ?? ''} ${err.message}`.trim() }));
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function startLoad(o: LoadOptions): LoadRun {
  const url = new URL(o.url);
  const maxRequests = o.maxRequests ?? 100000;
  const deadline = Date.now() + (o.maxDurationMs ?? 30000);
  const started = Date.now();
  let stopped = false;
  let issued = 0;
  const latencies: number[] = [];
  const failures: LoadFailure[] = [];
  const versions: Record<string, number> = {};
  const builds: Record<string, number> = {};
  const byRequest: Record<string, number> = {};
  let ok = 0;
  let inFlight = 0;
  let maxInFlight = 0;

  const worker = async (w: number) => {
    for (let k = w; !stopped && issued < maxRequests && Date.now() < deadline; k++) {
      issued++;
      const request = o.requests?.length ? o.requests[k % o.requests.length] : undefined;
      const key = `${request?.method ?? 'GET'} ${request?.path ?? url.pathname}`;
      byRequest[key] = (byRequest[key] ?? 0) + 1;
      const t0 = performance.now();
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      const r = await once(url, o.headers ?? {}, o.timeoutMs ?? 5000, request);
      inFlight--;
      latencies.push(performance.now() - t0);
      if (r.status !== undefined && r.status >= 200 && r.status < 300 && !r.error) {
        ok++;
        const v = r.version ?? '?';
        versions[v] = (versions[v] ?? 0) + 1;
        const b = `${v} ${r.sha256?.slice(0, 8) ?? '?'}`;
        builds[b] = (builds[b] ?? 0) + 1;
      } else failures.push({ atMs: Date.now() - started, status: r.status, error: r.error, method: request?.method, path: request?.path });
    }
  };
  const done = Promise.all(Array.from({ length: o.concurrency ?? 4 }, (_, w) => worker(w))).then((): LoadResult => {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      total: latencies.length,
      ok,
      failures,
      versions,
      builds,
      byRequest,
      maxInFlight,
      durationMs: Date.now() - started,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
    };
  });
  return {
    done,
    stop: () => {
      stopped = true;
      return done;
    },
    count: () => latencies.length,
  };
}

/** GET and POST (with a body), fast and slow (300 ms): the mix of the zero-loss deploy tests (nginx never resends a POST it has sent). */
export const MIXED_REQUESTS: readonly LoadRequest[] = [
  { method: 'GET', path: '/' },
  { method: 'POST', path: '/', body: 'order=42&note=' + 'x'.repeat(2000) },
  { method: 'GET', path: '/slow' },
  { method: 'POST', path: '/slow', body: 'order=43' },
];

/** The mixed load of the deploy tests through `url`: 8 clients, bounded at 60 s, 10 s per request. */
export function startMixedLoad(url: string): LoadRun {
  return startLoad({ url, requests: [...MIXED_REQUESTS], concurrency: 8, maxDurationMs: 60000, timeoutMs: 10000 });
}

/** One line of figures for a test's output (requests sent, failed, in flight, latency, builds). */
export function describeLoad(r: LoadResult): string {
  return `${r.total} requests (${JSON.stringify(r.byRequest)}), ${r.failures.length} failed, max ${r.maxInFlight} in flight, p50 ${Math.round(r.p50Ms)} ms, p95 ${Math.round(r.p95Ms)} ms, builds ${JSON.stringify(r.builds)}`;
}

/** Runs a bounded load to the end. */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return startLoad(o).done;
}

/**
 * The zero-loss check of the deploy tests: every backend of `results` (named in order) succeeded
 * and the load lost nothing; the message carries the figures.
 */
export function assertAllOkUnderLoad(
  results: ReadonlyArray<{ backend: string; ok: boolean; error?: string }>,
  names: readonly string[],
  ...loads: LoadResult[]
): void {
  assert.deepEqual(
    results.map((x) => [x.backend, x.ok, x.error]),
    names.map((n) => [n, true, undefined]),
  );
  const failures = loads.flatMap((l) => l.failures);
  assert.deepEqual(
    failures,
    [],
    `lost ${failures.length} of ${loads.reduce((n, l) => n + l.total, 0)}: ${loads.map(describeLoad).join('; ')}`,
  );
}
