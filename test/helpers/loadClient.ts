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
 * counts, as does every non-2xx status and every timeout.
 */
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
}

export interface LoadFailure {
  /** Since the start of the run. */
  atMs: number;
  status?: number;
  error?: string;
}

export interface LoadResult {
  total: number;
  ok: number;
  failures: LoadFailure[];
  /** 2xx answers per version (X-App-Version header, else JSON `version`, else "?"). */
  versions: Record<string, number>;
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

function once(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<{ status?: number; version?: string; error?: string }> {
  return new Promise((resolve) => {
    let finished = false;
    const finish = (r: { status?: number; version?: string; error?: string }) => {
      if (!finished) {
        finished = true;
        resolve(r);
      }
    };
    const req = http.get(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
      res.on('error', (err) => finish({ status: res.statusCode, error: err.message }));
      res.on('end', () => {
        let version = res.headers['x-app-version'] as string | undefined;
        if (!version) {
          try {
            version = String((JSON.parse(body) as { version?: unknown }).version ?? '') || undefined;
          } catch {
            // not JSON
          }
        }
        finish({ status: res.statusCode, version });
      });
    });
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
  let ok = 0;

  const worker = async () => {
    while (!stopped && issued < maxRequests && Date.now() < deadline) {
      issued++;
      const t0 = performance.now();
      const r = await once(url, o.headers ?? {}, o.timeoutMs ?? 5000);
      latencies.push(performance.now() - t0);
      if (r.status !== undefined && r.status >= 200 && r.status < 300 && !r.error) {
        ok++;
        const v = r.version ?? '?';
        versions[v] = (versions[v] ?? 0) + 1;
      } else failures.push({ atMs: Date.now() - started, status: r.status, error: r.error });
    }
  };
  const done = Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker)).then((): LoadResult => {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      total: latencies.length,
      ok,
      failures,
      versions,
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

/** Runs a bounded load to the end. */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return startLoad(o).done;
}
