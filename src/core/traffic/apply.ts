import { accessLogOf } from '../config/rolloutConfig';
import type { LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { accessLogDirective, LOG_FORMAT_DIRECTIVE } from '../analysis/accessLog';
import { CancelledError, InputError, OperationError, noLoadBalancerError, throwIfAborted } from '../errors';
import type { RunResult } from '../exec/process';
import type { Transport } from '../exec/transport';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { hostFilesFor } from '../exec/hostFiles';
import type { HostFiles } from '../exec/hostFiles';
import { formatSplit, parseHeader, renderUpstream } from './render';
import type { FileHeader } from './render';

/** A progress report: VS Code's `{message, increment}` shape (increment in percent of the whole). */
export interface Progress {
  message: string;
  increment?: number;
}

export interface ApplyOptions {
  log?: Logger;
  /** Honoured until the first LB's file is swapped; after that the change completes or is reverted. */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Per nginx command (test, reload). Default 30 s. */
  commandTimeoutMs?: number;
  /** Replaces hostFilesFor (tests). */
  filesFor?: (lb: LoadBalancerConfig, transport: Transport) => HostFiles;
}

/** One LB and the whole text its managed file should have. */
export interface LbFileChange {
  lb: LoadBalancerConfig;
  transport: Transport;
  text: string;
}

/** What one LB carried before and carries after a change. */
export interface AppliedLb {
  name: string;
  host: string;
  file: string;
  /** The file as it was (undefined: it did not exist). */
  beforeText?: string;
  before?: FileHeader;
  after?: FileHeader;
}

/** The split a load balancer's live file carries. */
export interface LbSplit {
  name: string;
  host: string;
  file: string;
  /** undefined: no file, a file that is not ours, or unreadable (see error). */
  split?: number;
  mode?: FileHeader['mode'];
  time?: string;
  text?: string;
  error?: string;
}

interface LbState extends LbFileChange {
  files: HostFiles;
  beforeText?: string;
  wroteNew: boolean;
  swapped: boolean;
  hadPrevious: boolean;
  reloadTried: boolean;
  reloaded: boolean;
}

function outputOf(r: RunResult): string {
  return (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-12).join('\n');
}

/** Runs the LB's test or reload command; throws OperationError naming the LB with nginx's own output. */
async function runNginx(s: LbState, step: 'test' | 'reload', timeoutMs: number): Promise<void> {
  const spec = s.lb[step];
  const shown = typeof spec === 'string' ? spec : spec.join(' ');
  let r: RunResult;
  try {
    r = await s.transport.command(spec, { allowFailure: true, timeoutMs });
  } catch (err) {
    throw new OperationError(`load balancer "${s.lb.name}": ${step} (${shown}) could not run: ${(err as Error).message}`, {
      step,
      lb: s.lb.name,
      cause: err,
    });
  }
  if (r.code !== 0) {
    const what = step === 'test' ? 'rejected the new file' : 'failed to reload';
    throw new OperationError(`load balancer "${s.lb.name}" ${what} (${shown} exited with ${r.code ?? r.signal}):\n${outputOf(r)}`, {
      step,
      lb: s.lb.name,
    });
  }
}

function failures(results: PromiseSettledResult<unknown>[]): Error[] {
  return results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => (r.reason instanceof Error ? r.reason : new Error(String(r.reason))));
}

/**
 * Changes the managed file of one or many LBs together.
 * 1. reads every live file (kept for the history and for a revert) and writes `<file>.new` beside it;
 * 2. on every LB: the live file is copied to `<file>.prev`, `<file>.new` renamed over it, and the LB's
 *    `test` (nginx -t) run;
 * 3. when every test passed, `reload` on every LB.
 * On ANY failure every LB whose file was swapped gets its previous file back, and those that had been
 * reloaded (or tried to) are reloaded again. The error names the LB and carries nginx's own message.
 */
export async function applyFiles(changes: readonly LbFileChange[], options: ApplyOptions = {}): Promise<AppliedLb[]> {
  const log = options.log ?? nullLogger;
  const timeoutMs = options.commandTimeoutMs ?? 30000;
  const filesFor = options.filesFor ?? ((lb, t) => hostFilesFor(lb, t));
  if (changes.length === 0) throw noLoadBalancerError();
  throwIfAborted(options.signal);
  const states: LbState[] = changes.map((c) => ({
    ...c,
    files: filesFor(c.lb, c.transport),
    wroteNew: false,
    swapped: false,
    hadPrevious: false,
    reloadTried: false,
    reloaded: false,
  }));

  // 1. Read and stage. Nothing live has changed yet: a failure or a cancel only cleans up .new files.
  options.onProgress?.({ message: `writing ${states.length === 1 ? states[0].lb.name : `${states.length} load balancers`}` });
  const staged = await Promise.allSettled(
    states.map(async (s) => {
      try {
        s.beforeText = await s.files.read(s.lb.file, options.signal);
        s.wroteNew = true;
        await s.files.writeNew(s.lb.file, s.text, options.signal);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        throw new OperationError(`load balancer "${s.lb.name}" (${s.files.host}): ${(err as Error).message}`, {
          step: 'write',
          lb: s.lb.name,
          cause: err,
        });
      }
    }),
  );
  const stageErrors = failures(staged);
  if (stageErrors.length > 0 || options.signal?.aborted) {
    await Promise.all(states.filter((s) => s.wroteNew).map((s) => s.files.discardNew(s.lb.file)));
    if (options.signal?.aborted) throw new CancelledError();
    throw combine(stageErrors, 'Nothing was changed on any load balancer.');
  }

  // 2. Swap and test everywhere. From here on the change finishes or is undone: no cancel in between.
  options.onProgress?.({ message: 'testing the new configuration' });
  const tested = await Promise.allSettled(
    states.map(async (s) => {
      try {
        const r = await s.files.swapIn(s.lb.file);
        s.swapped = true;
        s.hadPrevious = r.hadPrevious;
      } catch (err) {
        throw new OperationError(`load balancer "${s.lb.name}" (${s.files.host}): ${(err as Error).message}`, {
          step: 'swap',
          lb: s.lb.name,
          cause: err,
        });
      }
      await runNginx(s, 'test', timeoutMs);
    }),
  );
  const testErrors = failures(tested);
  if (testErrors.length > 0 || options.signal?.aborted) {
    const revertErrors = await revert(states, timeoutMs, log);
    await Promise.all(states.filter((s) => !s.swapped && s.wroteNew).map((s) => s.files.discardNew(s.lb.file)));
    if (testErrors.length === 0) {
      if (revertErrors.length > 0) throw combine(revertErrors, 'Cancelled, but restoring the previous files failed: check them by hand.');
      throw new CancelledError();
    }
    throw combine([...testErrors, ...revertErrors], revertMessage(revertErrors));
  }

  // 3. Reload everywhere.
  options.onProgress?.({ message: 'reloading' });
  const reloaded = await Promise.allSettled(
    states.map(async (s) => {
      s.reloadTried = true;
      await runNginx(s, 'reload', timeoutMs);
      s.reloaded = true;
    }),
  );
  const reloadErrors = failures(reloaded);
  if (reloadErrors.length > 0) {
    const revertErrors = await revert(states, timeoutMs, log);
    throw combine([...reloadErrors, ...revertErrors], revertMessage(revertErrors));
  }

  return states.map((s) => ({
    name: s.lb.name,
    host: s.files.host,
    file: s.lb.file,
    beforeText: s.beforeText,
    before: s.beforeText === undefined ? undefined : parseHeader(s.beforeText),
    after: parseHeader(s.text),
  }));
}

function revertMessage(revertErrors: Error[]): string {
  return revertErrors.length === 0
    ? 'Every load balancer is back on its previous file.'
    : 'Restoring the previous files failed on some load balancers (above): check them by hand; the previous file is <file>.prev.';
}

/** Puts every swapped LB back on its previous file and reloads those that had been reloaded. */
async function revert(states: LbState[], timeoutMs: number, log: Logger): Promise<Error[]> {
  const results = await Promise.allSettled(
    states
      .filter((s) => s.swapped)
      .map(async (s) => {
        try {
          await s.files.restore(s.lb.file, s.hadPrevious);
        } catch (err) {
          throw new OperationError(`load balancer "${s.lb.name}": restoring the previous file failed: ${(err as Error).message}`, {
            step: 'revert',
            lb: s.lb.name,
            cause: err,
          });
        }
        s.swapped = false;
        log.info(`${s.lb.name}: previous file restored`);
        if (s.reloadTried) {
          await runNginx(s, 'reload', timeoutMs).catch((err: Error) => {
            // A reload that failed before may fail again; the file is restored either way.
            if (s.reloaded) throw err;
            log.warn(`${s.lb.name}: reload after restoring failed again: ${err.message}`);
          });
          log.info(`${s.lb.name}: reloaded on the previous file`);
        }
      }),
  );
  return failures(results);
}

function combine(errors: Error[], tail: string): Error {
  if (errors.length === 1 && errors[0] instanceof OperationError) {
    const e = errors[0];
    return new OperationError(`${e.message}\n${tail}`, { ...e.subject, step: e.step, cause: e });
  }
  const first = errors[0] as OperationError | undefined;
  return new OperationError(`${errors.map((e) => e.message).join('\n')}\n${tail}`, { ...first?.subject, step: first?.step, cause: first });
}

/** The managed file for `lb` at `split`, with the project's traffic settings. */
export function renderFor(config: Pick<RolloutConfig, 'backends' | 'traffic'>, lb: LoadBalancerConfig, split: number, time: Date): string {
  const upstream = renderUpstream({
    lb,
    backends: config.backends,
    split,
    mode: config.traffic.mode,
    stickyKey: config.traffic.stickyKey,
    forceHeader: config.traffic.forceHeader,
    forceCookie: config.traffic.forceCookie,
    time,
  });
  return upstream + accessLogLines(accessLogOf(lb));
}

/**
 * The phar_rollout log format and an http-level access log, read by the canary analysis. A server
 * that sets its own access_log must repeat the access_log line inside it (nginx does not inherit it).
 */
export function accessLogLines(file: string): string {
  let directive: string;
  try {
    directive = accessLogDirective(file);
  } catch (err) {
    throw new InputError((err as Error).message, { hint: 'Set loadBalancers[].accessLog to a plain absolute path.' });
  }
  return [
    '# Canary analysis: every request, in the phar_rollout format. A server with its own access_log adds:',
    `#     ${directive}`,
    LOG_FORMAT_DIRECTIVE,
    directive,
    '',
  ].join('\n');
}

/**
 * Sets `split` on every LB of the project together (see applyFiles). `transportOf` gives each LB's
 * transport (a TransportPool's `get`).
 */
export async function applySplit(
  config: Pick<RolloutConfig, 'backends' | 'traffic' | 'loadBalancers'>,
  split: number,
  transportOf: (lb: LoadBalancerConfig) => Transport,
  options: ApplyOptions & { time?: Date } = {},
): Promise<AppliedLb[]> {
  const time = options.time ?? new Date();
  const changes = config.loadBalancers.map((lb) => ({ lb, transport: transportOf(lb), text: renderFor(config, lb, split, time) }));
  const applied = await applyFiles(changes, options);
  for (const a of applied)
    (options.log ?? nullLogger).info(
      `${a.name}: ${a.before ? `${formatSplit(a.before.split)} %` : 'unmanaged'} → ${formatSplit(split)} % canary`,
    );
  return applied;
}

/** Reads the split back from the header line of `lb`'s live file: what the LB really carries. */
export async function readSplit(
  lb: LoadBalancerConfig,
  transport: Transport,
  options: { signal?: AbortSignal; filesFor?: ApplyOptions['filesFor'] } = {},
): Promise<LbSplit> {
  const files = (options.filesFor ?? ((l, t) => hostFilesFor(l, t)))(lb, transport);
  const base = { name: lb.name, host: files.host, file: lb.file };
  try {
    const text = await files.read(lb.file, options.signal);
    if (text === undefined) return { ...base, error: `${lb.file} does not exist yet` };
    const header = parseHeader(text);
    if (!header) return { ...base, text, error: `${lb.file} is not a Phar Rollout file (no "# phar-rollout split=" header)` };
    return { ...base, ...header, text };
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    return { ...base, error: (err as Error).message };
  }
}

/** readSplit on every LB, in parallel. */
export function readSplits(
  config: Pick<RolloutConfig, 'loadBalancers'>,
  transportOf: (lb: LoadBalancerConfig) => Transport,
  options: { signal?: AbortSignal } = {},
): Promise<LbSplit[]> {
  return Promise.all(config.loadBalancers.map((lb) => readSplit(lb, transportOf(lb), options)));
}
