import * as http from 'node:http';
import * as https from 'node:https';
import { CancelledError } from '../errors';

/** Why a probe got no version. */
export type ProbeErrorKind = 'refused' | 'timeout' | 'dns' | 'bad-answer' | 'network';

export interface ProbeResult {
  url: string;
  ok: boolean;
  /** From the JSON `version` field, else the X-App-Version header. */
  version?: string;
  /** The JSON `commit` field, when the app reports one. */
  commit?: string;
  /** The JSON `sha256` field: the sha256 of the phar the server runs, when the app reports it. */
  sha256?: string;
  status?: number;
  /** Time to the full answer (or to the failure). */
  latencyMs: number;
  error?: { kind: ProbeErrorKind; message: string };
}

export interface ProbeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const MAX_BODY = 64 * 1024;

/**
 * GETs a version URL once on a fresh connection (no keep-alive: a probe must see a restarted
 * server as it is now) and classifies the outcome. Never throws, except CancelledError when
 * `signal` aborts.
 */
export function probeVersion(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  return new Promise<ProbeResult>((resolve, reject) => {
    if (options.signal?.aborted) return reject(new CancelledError());
    let settled = false;
    let timedOut = false;
    let req: http.ClientRequest | undefined;
    const done = (r: Omit<ProbeResult, 'url' | 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ url, latencyMs: elapsed(), ...r });
    };
    const fail = (kind: ProbeErrorKind, message: string, status?: number) => done({ ok: false, status, error: { kind, message } });
    const onAbort = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      reject(new CancelledError());
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      req?.destroy();
      fail('timeout', `no answer within ${timeoutMs} ms`);
    }, timeoutMs);

    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail('bad-answer', `invalid URL ${url}`);
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : undefined;
    if (!client) return fail('bad-answer', `unsupported URL scheme ${parsed.protocol}`);
    req = client.get(parsed, { agent: false, headers: { accept: 'application/json', 'user-agent': 'phar-rollout-probe' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      res.on('error', (err) => fail('network', err.message));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const header = res.headers['x-app-version'];
        const headerVersion = (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
        if (status < 200 || status > 299) return fail('bad-answer', `HTTP ${status}`, status);
        const body = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        const obj = json && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : undefined;
        const shape = obj ? answerShapeError(obj) : undefined;
        if (shape) return fail('bad-answer', `unreadable: ${shape}`, status);
        const jsonVersion = typeof obj?.version === 'string' || typeof obj?.version === 'number' ? String(obj.version) : undefined;
        const commit = typeof obj?.commit === 'string' ? obj.commit : undefined;
        const sha256 = typeof obj?.sha256 === 'string' ? obj.sha256.toLowerCase() : undefined;
        const version = jsonVersion ?? headerVersion;
        if (version) return done({ ok: true, status, version, commit, sha256 });
        if (!obj) return fail('bad-answer', `answer is not JSON and has no X-App-Version header (HTTP ${status})`, status);
        return fail('bad-answer', `JSON answer has no "version" field and no X-App-Version header`, status);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (timedOut) return;
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') fail('refused', `connection refused (${parsed.host})`);
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') fail('dns', `cannot resolve ${parsed.hostname}`);
      else if (code === 'ETIMEDOUT') fail('timeout', `connect to ${parsed.host} timed out`);
      else fail('network', `${code ? `${code}: ` : ''}${err.message}`);
    });
  });
}

const MAX_FIELD = 256;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Why a probe's JSON answer does not have the expected shape (undefined when it does): `version`
 * a string or number, `commit` a string, `sha256` 64 hex digits, each when present.
 */
export function answerShapeError(obj: Record<string, unknown>): string | undefined {
  const v = obj.version;
  if (v !== undefined && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v)))
    return `"version" is ${typeName(v)}, expected a string`;
  if (typeof v === 'string' && (v.length === 0 || v.length > MAX_FIELD))
    return `"version" is ${v.length ? 'longer than 256 characters' : 'empty'}`;
  if (obj.commit !== undefined && obj.commit !== null && typeof obj.commit !== 'string')
    return `"commit" is ${typeName(obj.commit)}, expected a string`;
  if (typeof obj.commit === 'string' && obj.commit.length > MAX_FIELD) return '"commit" is longer than 256 characters';
  if (obj.sha256 !== undefined && obj.sha256 !== null && (typeof obj.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(obj.sha256)))
    return `"sha256" is ${typeof obj.sha256 === 'string' ? 'not 64 hex digits' : typeName(obj.sha256)}`;
  return undefined;
}

/** Probes every URL at once (each with its own timeout); results in the order given. */
export function probeAll(urls: readonly string[], options: ProbeOptions = {}): Promise<ProbeResult[]> {
  return Promise.all(urls.map((u) => probeVersion(u, options)));
}

/**
 * True when a probe answer is the given build: same version; same commit when both sides know it;
 * same phar sha256 when both sides know it (two builds of one version differ there).
 */
export function servesBuild(
  answer: Pick<ProbeResult, 'version' | 'commit' | 'sha256'>,
  build: { version: string; commit?: string; sha256?: string },
): boolean {
  if (answer.version !== build.version) return false;
  if (answer.sha256 && build.sha256 && answer.sha256.toLowerCase() !== build.sha256.toLowerCase()) return false;
  if (!answer.commit || !build.commit || build.commit === 'unknown' || answer.commit === 'unknown') return true;
  // Apps often report a short commit; either side may be the prefix of the other.
  return build.commit.startsWith(answer.commit) || answer.commit.startsWith(build.commit);
}

/** "1.3.0 (abc1234, sha256 0123abcd)": a build's identity for messages. */
export function describeBuild(b: { version?: string; commit?: string; sha256?: string }): string {
  const parts = [
    b.commit && b.commit !== 'unknown' ? b.commit.slice(0, 7) : undefined,
    b.sha256 ? `sha256 ${b.sha256.slice(0, 8)}` : undefined,
  ];
  const extra = parts.filter(Boolean).join(', ');
  return `${b.version ?? '?'}${extra ? ` (${extra})` : ''}`;
}
