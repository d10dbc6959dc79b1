import * as os from 'node:os';
import type { BackendConfig, LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { accessLogOf } from '../config/rolloutConfig';
import { Attributor } from '../analysis/attribution';
import { AccessLogReader, LocalLogSource, TransportLogSource } from '../analysis/logReader';
import type { AccessLogEntry } from '../analysis/accessLog';
import { delay } from '../delay';
import { OperationError, describeError, throwIfAborted } from '../errors';
import type { Transport } from '../exec/transport';
import type { TransportPool } from '../exec/transportFor';
import type { Logger } from '../log';
import { safeText } from '../safeText';
import { applyFiles, processStart, readSplits, renderFor } from '../traffic/apply';
import { ownerAlive } from '../traffic/intent';
import type { Intent } from '../traffic/live';
import { probeVersion } from './probe';

/** Seconds waited for in-flight requests after a backend left rotation, when the backend sets none (and the upper bound of a log-driven wait). */
export const DEFAULT_DRAIN_SECONDS = 5;
/** Bytes of the access log read back from its end when a drain starts: the backend's recent upstream times. */
export const DRAIN_LOOKBACK_BYTES = 256 * 1024;
/** A log whose newest line is older than this at the drain tells nothing (idle, or not written by this LB): fall back. */
export const DRAIN_LOG_FRESH_MS = 60_000;
/** Never less than this after the drain is live, and this long after the last completion seen. */
export const DRAIN_MIN_QUIET_MS = 200;
export const DRAIN_MARGIN_MS = 100;
/** How often the log is read while waiting (a local read is cheap; over ssh each read is a round trip). */
const POLL_MS = 100;
const POLL_SSH_MS = 250;

/** True when a restart of `b` should be preceded by a drain: it has load balancers to leave and did not opt out. */
export function drains(config: Pick<RolloutConfig, 'loadBalancers'>, b: BackendConfig): boolean {
  return b.drain !== false && config.loadBalancers.length > 0;
}

/** One attempt of the drained backend as one LB logged it. */
export interface DrainSample {
  /** `$msec`: when the request ended (LB clock, ms). */
  timeMs: number;
  /** `$request_time` (ms): the request started at timeMs − requestTimeMs. */
  requestTimeMs: number;
  /** The attempt's `$upstream_response_time` on this backend (ms), when logged. */
  upstreamMs?: number;
}

/** What one LB's log says about a drain, at `now`. */
export interface DrainDecision {
  done: boolean;
  /** quiet: no request can still be running by the log; cap: `capMs` passed first; waiting: not yet. */
  reason: 'quiet' | 'cap' | 'waiting';
  /** When (LB clock) the backend counts as drained unless a longer request shows up. */
  quietUntil: number;
  /** The longest upstream time of the backend in the log (look-back and since the drain). */
  longestMs: number;
  /** Requests that were in flight when the drain became live and finished since (start < liveAt ≤ end). */
  finishedInFlight: number;
}

/**
 * The drain decision for one LB (pure). nginx logs a request when it ends, so a request still running
 * is invisible; what the log gives is how long the backend's requests take. The backend left
 * rotation at `liveAt` (nothing new reaches it after that); a request that started before then and
 * takes no longer than the longest seen (×1.5, + margin) has ended by `liveAt + quiet`. Every
 * completion seen after `liveAt` (a request that was in flight) pushes the end to at least
 * `margin` after it, and a longer one lengthens `quiet`. `capMs` (drainSeconds) bounds the wait.
 * All times on the LB's clock.
 */
export function drainDecision(input: { liveAt: number; now: number; capMs: number; samples: readonly DrainSample[] }): DrainDecision {
  let longestMs = 0;
  let lastEnd = -Infinity;
  let finishedInFlight = 0;
  for (const s of input.samples) {
    longestMs = Math.max(longestMs, s.upstreamMs ?? s.requestTimeMs);
    if (s.timeMs >= input.liveAt) {
      lastEnd = Math.max(lastEnd, s.timeMs);
      if (s.timeMs - s.requestTimeMs < input.liveAt) finishedInFlight++;
    }
  }
  const quiet = Math.max(DRAIN_MIN_QUIET_MS, Math.ceil(longestMs * 1.5) + DRAIN_MARGIN_MS);
  const quietUntil = Math.max(input.liveAt + quiet, lastEnd + DRAIN_MARGIN_MS);
  const reason = input.now >= quietUntil ? 'quiet' : input.now >= input.liveAt + input.capMs ? 'cap' : 'waiting';
  return { done: reason !== 'waiting', reason, quietUntil, longestMs, finishedInFlight };
}

/** How a drain waited: from the access logs, or `drainSeconds` (and why). */
export interface DrainReport {
  method: 'access log' | 'drainSeconds';
  waitedMs: number;
  /** One line for progress and the log. */
  message: string;
}

/** One LB's access log followed for one drain. */
class LogWatch {
  samples: DrainSample[] = [];
  newestMs = -Infinity;
  constructor(
    readonly lb: LoadBalancerConfig,
    private readonly reader: AccessLogReader,
    /** LB clock minus this machine's clock. */
    readonly offsetMs: number,
    private readonly attributor: Attributor,
    private readonly backend: string,
  ) {}

  private take = (e: AccessLogEntry): void => {
    this.newestMs = Math.max(this.newestMs, e.timeMs);
    for (const a of this.attributor.attempts(e))
      if (a.backend === this.backend) this.samples.push({ timeMs: e.timeMs, requestTimeMs: e.requestTimeMs, upstreamMs: a.timeMs });
  };

  /** Reads what is new (bounded: a few chunks per round). */
  async poll(signal?: AbortSignal): Promise<void> {
    await this.reader.readAll({ signal, onEntry: this.take, rounds: 8 });
  }

  /** Opens the log at its end minus DRAIN_LOOKBACK_BYTES; a reason string when it cannot tell anything. */
  static async open(lb: LoadBalancerConfig, t: Transport, attributor: Attributor, backend: string, signal?: AbortSignal) {
    const file = accessLogOf(lb);
    const source = lb.ssh ? new TransportLogSource(t, file) : new LocalLogSource(file);
    const reader = new AccessLogReader(source, { startAt: 'end' });
    await reader.read({ signal }); // stat only: the cursor lands at the end
    const main = reader.cursor.main;
    if (!main) return `no access log at ${file} on ${lb.name}`;
    reader.cursor = { started: true, main: { inode: main.inode, offset: Math.max(0, main.offset - DRAIN_LOOKBACK_BYTES) } };
    const offsetMs = lb.ssh ? await clockOffset(t, signal) : 0;
    const w = new LogWatch(lb, reader, offsetMs, attributor, backend);
    await w.poll(signal);
    const now = Date.now() + offsetMs;
    if (!(now - w.newestMs <= DRAIN_LOG_FRESH_MS))
      return `the access log ${file} on ${lb.name} shows no request in the last ${DRAIN_LOG_FRESH_MS / 1000} s`;
    return w;
  }
}

/** The LB host's clock minus ours (ms), from `date` there (0 when it cannot tell). */
async function clockOffset(t: Transport, signal?: AbortSignal): Promise<number> {
  const t0 = Date.now();
  const r = await t.exec(['date', '+%s%N'], { signal, allowFailure: true, timeoutMs: 10_000 });
  const t1 = Date.now();
  const s = r.stdout.trim();
  return r.code === 0 && /^\d{16,}$/.test(s) ? Number(s.slice(0, -6)) - (t0 + t1) / 2 : 0;
}

/** The journal beside each LB's managed file: which backends this process has drained (for recovery after a kill). */
export const DRAIN_JOURNAL_SUFFIX = '.drained';

/** `<file>.drained`: written before a backend goes down, removed once none is. */
export interface DrainJournal {
  version: 1;
  owner: string;
  pid: number;
  pidStart?: string;
  host: string;
  /** When the first of these backends was drained (ISO). */
  time: string;
  backends: string[];
}

async function writeJournal(t: Transport, lb: LoadBalancerConfig, j: DrainJournal | undefined): Promise<void> {
  const file = lb.file + DRAIN_JOURNAL_SUFFIX;
  if (!j) await t.exec(['rm', '-f', '--', file], { timeoutMs: 30_000 });
  else await t.exec(['sh', '-c', 'cat > "$1.tmp" && mv -f -- "$1.tmp" "$1"', 'sh', file], { input: JSON.stringify(j), timeoutMs: 30_000 });
}

async function readJournal(t: Transport, lb: LoadBalancerConfig, signal?: AbortSignal): Promise<DrainJournal | undefined> {
  const file = lb.file + DRAIN_JOURNAL_SUFFIX;
  const r = await t.exec(['sh', '-c', 'if [ -e "$1" ]; then cat -- "$1"; fi', 'sh', file], { signal, timeoutMs: 30_000 });
  if (!r.stdout.trim()) return undefined;
  try {
    const j = JSON.parse(r.stdout) as Partial<DrainJournal>;
    if (
      typeof j.pid === 'number' &&
      typeof j.host === 'string' &&
      Array.isArray(j.backends) &&
      j.backends.every((b) => typeof b === 'string')
    )
      return {
        version: 1,
        owner: String(j.owner ?? '?'),
        pid: j.pid,
        pidStart: j.pidStart,
        host: j.host,
        time: String(j.time ?? ''),
        backends: j.backends,
      };
  } catch {
    // fall through
  }
  throw new OperationError(`${file} on load balancer "${lb.name}" is not a drain journal Phar Rollout wrote: remove it by hand`, {
    step: 'recover',
    lb: lb.name,
  });
}

/**
 * Takes backends out of rotation on every LB of the project and puts them back, for one deploy or
 * rollback run. Each LB keeps the split its live file carries; the drained backends are written
 * `down` and the file goes through applyFiles (nginx -t before reload, previous file back on any
 * failure). Changes are serialised, so two backends drained at once never overwrite each other.
 * A journal beside each LB file names the drained backends, so a run killed meanwhile is undone
 * by the next command (restoreDrained).
 */
export class Drainer {
  private readonly drained = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private since: string | undefined;

  constructor(
    private readonly config: RolloutConfig,
    private readonly pool: TransportPool,
    private readonly log: Logger,
  ) {}

  /** Backends out of rotation now (by name). */
  get current(): ReadonlySet<string> {
    return this.drained;
  }

  /**
   * Out of rotation on every LB (confirmed in each live file), then waits for its requests in flight:
   * from every LB's access log where each has a fresh one (see drainDecision, `drainSeconds` the upper
   * bound), else `drainSeconds`.
   */
  async drain(b: BackendConfig, signal?: AbortSignal): Promise<DrainReport> {
    const seconds = b.drainSeconds ?? DEFAULT_DRAIN_SECONDS;
    const capMs = seconds * 1000;
    const lbs = this.config.loadBalancers;
    // Opened before the change: the look-back read does not delay the wait.
    const attributor = new Attributor(this.config.backends);
    let watches: LogWatch[] | string;
    try {
      const opened = await Promise.all(lbs.map((lb) => LogWatch.open(lb, this.pool.get(lb), attributor, b.name, signal)));
      const why = opened.find((o): o is string => typeof o === 'string');
      watches = why ?? (opened as LogWatch[]);
    } catch (err) {
      throwIfAborted(signal);
      watches = `reading the access log failed: ${describeError(err)}`;
    }
    await this.change(b, true);
    const liveAt = Date.now();
    const where = `${lbs.length} load balancer${lbs.length === 1 ? '' : 's'}`;
    if (typeof watches === 'string') {
      await delay(capMs, signal);
      return {
        method: 'drainSeconds',
        waitedMs: Date.now() - liveAt,
        message: `${b.name}: out of rotation on ${where}; waited drainSeconds (${seconds} s): ${safeText(watches)}`,
      };
    }
    for (;;) {
      const now = Date.now();
      try {
        await Promise.all(watches.map((w) => w.poll(signal)));
      } catch (err) {
        throwIfAborted(signal);
        const left = Math.max(0, liveAt + capMs - Date.now());
        await delay(left, signal);
        return {
          method: 'drainSeconds',
          waitedMs: Date.now() - liveAt,
          message: `${b.name}: out of rotation on ${where}; reading the access log failed (${safeText(describeError(err))}), so waited drainSeconds (${seconds} s)`,
        };
      }
      const decisions = watches.map((w) =>
        drainDecision({ liveAt: liveAt + w.offsetMs, now: now + w.offsetMs, capMs, samples: w.samples }),
      );
      if (decisions.every((d) => d.done)) {
        const waitedMs = Date.now() - liveAt;
        const inFlight = decisions.reduce((n, d) => n + d.finishedInFlight, 0);
        const longest = Math.max(...decisions.map((d) => d.longestMs));
        const capped = decisions.some((d) => d.reason === 'cap');
        return {
          method: 'access log',
          waitedMs,
          message: `${b.name}: out of rotation on ${where}; drained after ${(waitedMs / 1000).toFixed(2)} s by the access log (${inFlight} request(s) in flight finished, longest upstream time ${longest} ms${capped ? `; stopped at drainSeconds ${seconds} s` : ''})`,
        };
      }
      await delay(lbs.some((lb) => lb.ssh) ? POLL_SSH_MS : POLL_MS, signal);
    }
  }

  /** Back in rotation on every LB. Runs even after a cancel: a backend must not stay drained. */
  async undrain(b: BackendConfig): Promise<void> {
    if (!this.drained.has(b.name)) return;
    await this.change(b, false);
    this.log.info(`${b.name}: back in rotation`);
  }

  private change(b: BackendConfig, down: boolean): Promise<void> {
    const next = this.chain.then(() => this.write(b, down));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async journal(names: ReadonlySet<string>): Promise<void> {
    if (names.size === 0) this.since = undefined;
    else this.since ??= new Date().toISOString();
    const j: DrainJournal | undefined =
      names.size === 0
        ? undefined
        : {
            version: 1,
            owner: ownerName(),
            pid: process.pid,
            pidStart: processStart(process.pid),
            host: os.hostname(),
            time: this.since!,
            backends: [...names],
          };
    await Promise.all(this.config.loadBalancers.map((lb) => writeJournal(this.pool.get(lb), lb, j)));
  }

  private async write(b: BackendConfig, down: boolean): Promise<void> {
    const wanted = new Set(this.drained);
    if (down) wanted.add(b.name);
    else wanted.delete(b.name);
    const step = down ? 'drain' : 'undrain';
    // The journal names a backend before it goes down, and stops naming it only once it is back.
    if (down) await this.journal(wanted);
    try {
      await rewrite(this.config, this.pool, wanted, b.name, down, step, this.log);
    } catch (err) {
      if (down) await this.journal(this.drained).catch(() => undefined);
      throw err;
    }
    if (down) this.drained.add(b.name);
    else this.drained.delete(b.name);
    if (!down) await this.journal(this.drained).catch((e) => this.log.warn(`the drain journal could not be updated: ${describeError(e)}`));
  }
}

function ownerName(): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return `pid ${process.pid}@${os.hostname()}`;
  }
}

/**
 * Writes every LB's file again at its live split with `wanted` down, and confirms that `name` is
 * carried as asked (down or in rotation) in each live file afterwards.
 */
async function rewrite(
  config: RolloutConfig,
  pool: TransportPool,
  wanted: ReadonlySet<string>,
  name: string,
  down: boolean,
  step: string,
  log: Logger,
): Promise<void> {
  const transportOf = (lb: LoadBalancerConfig) => pool.get(lb);
  const live = await readSplits(config, transportOf);
  const bad = live.find((l) => l.split === undefined);
  if (bad)
    throw new OperationError(
      `cannot ${down ? 'take' : 'put'} ${name} ${down ? 'out of' : 'back in'} rotation: load balancer "${bad.name}" carries no split Phar Rollout wrote (${bad.error ?? 'unreadable'}). Set the split once (\`phar-rollout ramp\`)${down ? `, or set "drain": false on ${name}` : ''}.`,
      { step, backend: name, lb: bad.name },
    );
  const time = new Date();
  const changes = config.loadBalancers.map((lb, i) => ({
    lb,
    transport: transportOf(lb),
    text: renderFor(config, lb, live[i].split!, time, wanted),
  }));
  await applyFiles(changes, { log });
  // Confirmed: every live file now carries the server as we wrote it (down or not).
  const after = await readSplits(config, transportOf);
  for (const a of after) {
    const lines = serverText(a.text ?? '', name);
    if (lines && /\sdown;/.test(lines) !== down)
      throw new OperationError(`load balancer "${a.name}" does not carry ${name} ${down ? 'down' : 'in rotation'} after the reload`, {
        step,
        backend: name,
        lb: a.name,
      });
  }
}

/** The `server` lines of `name` in a rendered file. */
function serverText(text: string, name: string): string {
  return text
    .split('\n')
    .filter((l) => /^\s*server\s/.test(l) && l.includes(`# ${name} (`))
    .join('\n');
}

/** What restoreDrained did. */
export interface RestoredDrain {
  /** Backends put back in rotation on every LB. */
  restored: string[];
  /** Backends left down: their probe does not answer (with why). */
  kept: Array<{ backend: string; why: string }>;
  /** The journal's owner (foreign text, made safe in `description`). */
  owner: string;
  pid: number;
  host: string;
  time: string;
  description: string;
}

/**
 * Puts back in rotation what a killed deploy or rollback left drained: for every LB's drain journal
 * whose owner is gone (`isAlive` false on this host; from another host, older than `staleMs`), each
 * backend it names goes back in rotation on every LB (file at the live split, tested, reloaded,
 * confirmed live) — unless its probe fails (it may be broken: it stays down, reported in `kept`, and
 * the journal keeps naming it for the next try). Call it under the rollout lock.
 */
export async function restoreDrained(
  config: RolloutConfig,
  pool: TransportPool,
  options: { log: Logger; signal?: AbortSignal; isAlive?: (j: DrainJournal) => boolean; staleMs?: number },
): Promise<RestoredDrain[]> {
  const lbs = config.loadBalancers;
  const journals = await Promise.all(lbs.map((lb) => readJournal(pool.get(lb), lb, options.signal)));
  const isAlive = options.isAlive ?? ((j: DrainJournal) => ownerAlive(j as unknown as Intent));
  const gone = (j: DrainJournal) =>
    j.host === os.hostname() ? !isAlive(j) : Date.now() - Date.parse(j.time) > (options.staleMs ?? 5 * 60 * 1000);
  const dead = journals.find((j): j is DrainJournal => j !== undefined && gone(j));
  if (!dead) return [];
  const names = [...new Set(journals.flatMap((j) => (j && gone(j) ? j.backends : [])))];
  const stillHeld = new Set(journals.flatMap((j) => (j && !gone(j) ? j.backends : [])));
  const kept: RestoredDrain['kept'] = [];
  const restored: string[] = [];
  for (const n of names) {
    const b = config.backends.find((x) => x.name === n);
    if (!b) continue; // no longer configured: the rendered file cannot carry it
    const p = b.probe ? await probeVersion(b.probe, { timeoutMs: config.probe.timeoutMs, signal: options.signal }) : undefined;
    if (p && !p.ok) kept.push({ backend: n, why: p.error?.message ?? 'probe failed' });
    else restored.push(n);
  }
  const down = new Set([...stillHeld, ...kept.map((k) => k.backend)]);
  for (const n of restored) {
    await rewrite(config, pool, down, n, false, 'recover', options.log);
  }
  const left = kept.map((k) => k.backend);
  await Promise.all(
    lbs.map((lb, i) => {
      const j = journals[i];
      if (!j || !gone(j)) return undefined;
      return writeJournal(pool.get(lb), lb, left.length ? { ...j, backends: left } : undefined);
    }),
  );
  const who = `${safeText(dead.owner)} (pid ${dead.pid} on ${safeText(dead.host)}, drained since ${safeText(dead.time)})`;
  const parts = [
    restored.length ? `${restored.join(', ')} back in rotation on every load balancer, confirmed live` : '',
    kept.length
      ? `${kept.map((k) => `${k.backend} left out of rotation: its probe fails (${safeText(k.why)})`).join('; ')}; fix it, then run \`phar-rollout recover\``
      : '',
  ].filter(Boolean);
  return [
    {
      restored,
      kept,
      owner: dead.owner,
      pid: dead.pid,
      host: dead.host,
      time: dead.time,
      description: `recovered a deploy killed while backends were drained by ${who}: ${parts.join('; ') || 'nothing was down'}`,
    },
  ];
}
