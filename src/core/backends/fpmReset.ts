import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { OperationError, throwIfAborted } from '../errors';
import type { Transport } from '../exec/transport';
import { fastCgiRequest } from './fastcgi';
import { quoted } from '../safeText';

/** The script shipped in php/ and where a deploy puts it on the backend (`<dir>/.phar-rollout/`). */
export const FPM_RESET_SCRIPT = 'fpmReset.php';
export const BACKEND_TOOLS_DIR = '.phar-rollout';

/** php/fpmReset.php beside dist/ (bundled) or out/src/core/backends (tests). */
export function findFpmResetScript(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'php', FPM_RESET_SCRIPT);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new OperationError(`php/${FPM_RESET_SCRIPT} is missing beside ${__dirname}`, { step: 'restart', file: FPM_RESET_SCRIPT });
}

/** One answer of the reset script. */
interface ResetAnswer {
  pid: number;
  opcacheReset: boolean;
  workers: number[];
}

function parseAnswer(body: string, address: string): ResetAnswer {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    v = undefined;
  }
  const o = v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  const workers = Array.isArray(o?.workers) ? o.workers.filter((w): w is number => Number.isInteger(w)) : undefined;
  if (!o || !Number.isInteger(o.pid) || !workers) {
    throw new OperationError(`the OPcache reset script at ${address} answered something else than its JSON: ${quoted(body, 200)}`, {
      step: 'restart',
      host: address,
    });
  }
  return { pid: o.pid as number, opcacheReset: o.opcacheReset === true, workers };
}

export interface FpmResetResult {
  /** The pool's workers at the end (pids). */
  workers: number[];
  /** Workers whose realpath cache was cleared. */
  cleared: number[];
  opcacheReset: boolean;
  waves: number;
}

/**
 * Makes the php-fpm pool at `address` (host:port, the backend's upstream) serve what `current`
 * points at now, without reloading fpm: copies php/fpmReset.php to `<dir>/.phar-rollout/` on the
 * backend's host, then sends it FastCGI requests: one to learn the pool's workers (and reset
 * OPcache, shared by all of them), then waves of one request per worker held at a barrier so
 * that every worker clears its own realpath cache. Resolves once every current worker did;
 * throws OperationError (step "restart") when that does not happen within `deadlineMs`.
 */
export async function resetFpmPool(
  t: Transport,
  dir: string,
  address: string,
  options: { deadlineMs: number; timeoutMs: number; signal?: AbortSignal },
): Promise<FpmResetResult> {
  const toolsDir = `${dir.replace(/\/+$/, '')}/${BACKEND_TOOLS_DIR}`;
  const script = `${toolsDir}/${FPM_RESET_SCRIPT}`;
  await t.exec(['sh', '-c', 'mkdir -p -- "$1" && cat > "$2.tmp" && mv -f -- "$2.tmp" "$2"', 'sh', toolsDir, script], {
    signal: options.signal,
    input: await fs.readFile(findFpmResetScript(), 'utf8'),
  });
  const deadline = Date.now() + options.deadlineMs;
  const ask = async (query: string): Promise<ResetAnswer> => {
    const a = await fastCgiRequest(
      address,
      {
        SCRIPT_FILENAME: script,
        SCRIPT_NAME: `/${FPM_RESET_SCRIPT}`,
        REQUEST_URI: `/${FPM_RESET_SCRIPT}?${query}`,
        QUERY_STRING: query,
        REQUEST_METHOD: 'GET',
        SERVER_PROTOCOL: 'HTTP/1.1',
        GATEWAY_INTERFACE: 'CGI/1.1',
        SERVER_SOFTWARE: 'phar-rollout',
        REMOTE_ADDR: '127.0.0.1',
        CONTENT_LENGTH: '0',
      },
      { timeoutMs: Math.max(100, Math.min(options.timeoutMs + 3000, deadline - Date.now())), signal: options.signal },
    );
    if (a.status !== 200) {
      throw new OperationError(
        `the OPcache reset script at ${address} answered HTTP ${a.status}${a.stderr ? `: ${quoted(a.stderr, 200)}` : ''} (is ${script} readable by the pool, and allowed by open_basedir?)`,
        { step: 'restart', host: address },
      );
    }
    return parseAnswer(a.body, address);
  };
  const first = await ask('n=1');
  const cleared = new Set([first.pid]);
  let workers = first.workers;
  let opcacheReset = first.opcacheReset;
  let waves = 1;
  if (!workers.length) {
    throw new OperationError(
      `the php-fpm pool at ${address} does not show its workers (no /proc?): cannot clear every worker's realpath cache; use "restart" with a graceful reload instead`,
      { step: 'restart', host: address },
    );
  }
  while (workers.some((w) => !cleared.has(w))) {
    throwIfAborted(options.signal);
    if (Date.now() > deadline) {
      throw new OperationError(
        `the php-fpm pool at ${address}: ${workers.filter((w) => !cleared.has(w)).length} of ${workers.length} workers did not take the reset within ${options.deadlineMs} ms (busy?)`,
        { step: 'restart', host: address },
      );
    }
    const token = randomBytes(12).toString('hex');
    const n = workers.length;
    const answers = await Promise.all(Array.from({ length: n }, () => ask(`token=${token}&n=${n}`)));
    waves++;
    for (const a of answers) {
      cleared.add(a.pid);
      opcacheReset ||= a.opcacheReset;
    }
    // Workers spawned meanwhile (pm = dynamic/ondemand) join the set; a fresh one is cleared by the next wave.
    workers = answers[answers.length - 1].workers;
  }
  return { workers, cleared: [...cleared].sort((a, b) => a - b), opcacheReset, waves };
}
