import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { accessLogOf } from '../config/rolloutConfig';
import type { CommandSpec, LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { accessLogDirective, LOG_FORMAT_DIRECTIVE } from '../analysis/accessLog';
import { CancelledError, InputError, OperationError, noLoadBalancerError, throwIfAborted } from '../errors';
import type { RunResult } from '../exec/process';
import type { Transport } from '../exec/transport';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { hostFilesFor } from '../exec/hostFiles';
import type { HostFiles } from '../exec/hostFiles';
import { safeText } from '../safeText';
import { statusAddress, statusAddressIn } from './generation';
import { RELOAD_SCRIPT, STAGE_SCRIPT, commandArgs, markers, runScript } from './lbScripts';
import { formatSplit, parseHeader, renderUpstream } from './render';
import type { FileHeader } from './render';

/** A progress report: VS Code's `{message, increment}` shape (increment in percent of the whole). */
export interface Progress {
  message: string;
  increment?: number;
}

export interface ApplyOptions {
  log?: Logger;
  /**
   * Cancels before the first call; after that the running scripts finish and the change is reverted
   * (reloaded and confirmed on the previous generation), then CancelledError is thrown.
   */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Per nginx command (test, reload). Default 30 s. */
  commandTimeoutMs?: number;
  /** How long a reload may take to become live (new generation answered, old workers not accepting). Default 10 s. */
  confirmDeadlineMs?: number;
  /** Who changes the split (the intent's owner, e.g. git's user.email). Default user@host of this process. */
  owner?: string;
  /** Replaces hostFilesFor in readSplit (tests). applyFiles runs scripts through the transport. */
  filesFor?: (lb: LoadBalancerConfig, transport: Transport) => HostFiles;
}

/** One LB and the whole text its managed file should have. */
export interface LbFileChange {
  lb: LoadBalancerConfig;
  transport: Transport;
  text: string;
  /** Extra fields kept in `<file>.applied.json` once the change is live (the configuration it was applied with). */
  applied?: Record<string, unknown>;
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
  /** The generation now served (confirmed live). */
  generation?: string;
  /** ms from the reload to confirmed live. */
  liveMs?: number;
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
  /** The file's generation (absent in files older than generations). */
  generation?: string;
  text?: string;
  error?: string;
}

function failures(results: PromiseSettledResult<unknown>[]): Error[] {
  return results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => (r.reason instanceof Error ? r.reason : new Error(String(r.reason))));
}

function combine(errors: Error[], tail: string): Error {
  if (errors.length === 1 && errors[0] instanceof OperationError) {
    const e = errors[0];
    return new OperationError(`${e.message}\n${tail}`, { ...e.subject, step: e.step ?? 'apply', cause: e });
  }
  const first = errors[0] as OperationError | undefined;
  return new OperationError(`${errors.map((e) => e.message).join('\n')}\n${tail}`, {
    ...first?.subject,
    step: first?.step ?? 'apply',
    cause: first,
  });
}

interface LbState extends LbFileChange {
  /** Generation of the new file (undefined: not a managed file, e.g. a test's hand-written text). */
  generation?: string;
  status: string;
  pidFile: string;
  errorLog: string;
  staged: boolean;
  swapped: boolean;
  hadFile: boolean;
  beforeText?: string;
  reloadTried: boolean;
  liveMs?: number;
  /** The applied configuration (JSON), kept on the LB once live. */
  appliedText?: string;
}

/** The one place this module builds an OperationError (keeps constructor changes in one spot). */
function lbError(message: string, step: string, lb: string, cause?: unknown): OperationError {
  return new OperationError(message, cause === undefined ? { step, lb } : { step, lb, cause });
}

const DEFAULT_PID_FILE = '/run/nginx.pid';
const DEFAULT_ERROR_LOG = '/var/log/nginx/error.log';

/** `nginx -T` in place of the LB's `nginx -t` (tests and dumps the config: its pid and error_log), when it has one. */
export function dumpSpec(spec: CommandSpec): CommandSpec | undefined {
  if (Array.isArray(spec)) {
    const i = spec.indexOf('-t');
    return i < 0 ? undefined : spec.map((a, k) => (k === i ? '-T' : a));
  }
  return /(^|\s)-t(?=\s|$)/.test(spec) ? spec.replace(/(^|\s)-t(?=\s|$)/, '$1-T') : undefined;
}

/** The `-p PREFIX` of an nginx command (relative paths in nginx.conf are relative to it). */
function prefixOf(spec: CommandSpec): string | undefined {
  if (Array.isArray(spec)) {
    const i = spec.indexOf('-p');
    return i >= 0 ? spec[i + 1] : undefined;
  }
  return /(?:^|\s)-p\s+(\S+)/.exec(spec)?.[1];
}

/** A path nginx -T printed, made absolute against the command's prefix; undefined when unusable. */
export function nginxPath(value: string | undefined, spec: CommandSpec): string | undefined {
  if (!value || value === 'stderr' || value.startsWith('syslog:') || value === 'off') return undefined;
  if (value.startsWith('/')) return value;
  const prefix = prefixOf(spec);
  return prefix ? path.posix.join(prefix, value) : undefined;
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat): a pid reused by another process differs. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function splitWords(s: number | undefined): string {
  return s === undefined ? 'its previous file' : `${formatSplit(s)} %`;
}

/** "back on 25 %" or, when the LBs differ, "back on its previous split (lb-1 25 %, lb-2 0 %)". */
function backOn(states: readonly LbState[]): string {
  const befores = states.map((s) => (s.beforeText === undefined ? undefined : parseHeader(s.beforeText)?.split));
  if (befores.every((b) => b === befores[0])) return `every load balancer is back on ${splitWords(befores[0])}`;
  return `every load balancer is back on its previous split (${states.map((s, i) => `${s.lb.name} ${splitWords(befores[i])}`).join(', ')})`;
}

function quoteLines(lines: readonly string[]): string {
  return lines.length ? lines.map((l) => `  ${safeText(l)}`).join('\n') : '  (nothing)';
}

/** Stage, write the intent, swap and test on one LB: one transport call. */
async function stage(s: LbState, intent: string, op: string, timeoutMs: number): Promise<void> {
  const derive = s.lb.pidFile === undefined || s.lb.errorLog === undefined;
  const dump = derive ? dumpSpec(s.lb.test) : undefined;
  // The byte count lets the script refuse a file cut short: if this process dies while sending it,
  // the script (its own process group) sees end of input and must not swap a partial file in.
  const args = [s.lb.file, intent, dump ? '1' : '0', String(Buffer.byteLength(s.text)), op, ...commandArgs(dump ?? s.lb.test)];
  let r: RunResult;
  try {
    r = await runScript(s.transport, STAGE_SCRIPT, args, { input: s.text, timeoutMs });
  } catch (err) {
    throw lbError(
      `load balancer "${s.lb.name}" (${s.transport.host}): staging the new file failed: ${(err as Error).message}`,
      'write',
      s.lb.name,
      err,
    );
  }
  const cut = r.stdout.indexOf('\n@before\n');
  const head = cut < 0 ? r.stdout : r.stdout.slice(0, cut);
  const { marks, quoted } = markers(head);
  s.staged = true;
  if (marks.has('superseded'))
    throw lbError(`load balancer "${s.lb.name}": ${superseded(s.lb, marks.get('superseded'))}`, 'write', s.lb.name);
  if (r.code !== 0 || !marks.has('swapped')) {
    throw lbError(
      `load balancer "${s.lb.name}" (${s.transport.host}): staging the new file failed: ${safeText(r.stderr.trim() || `exit ${r.code}`)}`,
      'write',
      s.lb.name,
    );
  }
  s.swapped = true;
  s.hadFile = marks.get('swapped') === 'had';
  if (s.hadFile && cut >= 0) s.beforeText = r.stdout.slice(cut + '\n@before\n'.length);
  s.pidFile = s.lb.pidFile ?? nginxPath(marks.get('pid'), s.lb.test) ?? DEFAULT_PID_FILE;
  s.errorLog = s.lb.errorLog ?? nginxPath(marks.get('errlog'), s.lb.test) ?? DEFAULT_ERROR_LOG;
  const code = marks.get('test');
  if (code !== '0') {
    const shown = typeof s.lb.test === 'string' ? s.lb.test : s.lb.test.join(' ');
    throw lbError(
      `load balancer "${s.lb.name}" rejected the new file (${safeText(shown)} exited with ${code}):\n${quoteLines(quoted)}`,
      'test',
      s.lb.name,
    );
  }
}

/** What the reload+confirm script reported. */
export interface ReloadOutcome {
  ok: boolean;
  /** ms from the reload to confirmed live. */
  liveMs?: number;
  message?: string;
}

/**
 * Puts a file in place (see RELOAD_SCRIPT modes), reloads and confirms `generation` live on one LB:
 * one transport call. Never throws for nginx's answers (see `ok`), only when the host cannot be reached.
 */
export async function reloadConfirmed(
  lb: LoadBalancerConfig,
  transport: Transport,
  o: ReloadOptions & {
    mode: 'apply' | 'restore' | 'remove' | 'keep' | 'prev' | 'confirmed';
    /** Mode apply: the configuration the split is applied with (kept once live). */
    applied?: string;
  },
): Promise<ReloadOutcome> {
  const r = await runReload(lb, transport, { ...o, input: o.applied ?? '' });
  return reloadOutcome(lb, r, o);
}

interface ReloadOptions {
  reload: boolean;
  generation?: string;
  pidFile?: string;
  errorLog?: string;
  deadlineMs?: number;
  op?: string;
  timeoutMs?: number;
  /** Where the file being confirmed answers (default: the LB's configured address). */
  status?: string;
}

/** Runs RELOAD_SCRIPT (see its modes); `input` is its stdin (mode wait: the instruction, written later). */
function runReload(
  lb: LoadBalancerConfig,
  transport: Transport,
  o: ReloadOptions & { mode: string; input: string | Readable },
): Promise<RunResult> {
  const deadline = o.deadlineMs ?? 10000;
  const args = [
    lb.file,
    o.mode,
    o.reload ? 'reload' : 'none',
    o.generation ?? '',
    o.pidFile ?? lb.pidFile ?? DEFAULT_PID_FILE,
    o.errorLog ?? lb.errorLog ?? DEFAULT_ERROR_LOG,
    String(deadline),
    o.status ?? statusAddress(lb),
    o.op ?? '-',
    ...commandArgs(lb.reload),
  ];
  return runScript(transport, RELOAD_SCRIPT, args, { input: o.input, timeoutMs: (o.timeoutMs ?? 30000) + deadline });
}

/** What RELOAD_SCRIPT's output says, in words that quote nginx (never throws). */
function reloadOutcome(lb: LoadBalancerConfig, r: RunResult, o: ReloadOptions): ReloadOutcome {
  // Each option resolved once: the messages use the values the script was given.
  const deadline = o.deadlineMs ?? 10000;
  const errorLog = o.errorLog ?? lb.errorLog ?? DEFAULT_ERROR_LOG;
  const status = o.status ?? statusAddress(lb);
  const { marks, quoted } = markers(r.stdout);
  if (marks.has('stopped')) return { ok: false, message: 'nothing was done (no instruction arrived)' };
  if (r.code !== 0 || !marks.has('placed'))
    return { ok: false, message: `putting the file in place failed: ${safeText(r.stderr.trim() || `exit ${r.code}`)}` };
  if (marks.has('superseded')) return { ok: false, message: superseded(lb, marks.get('superseded')) };
  if (marks.has('done')) return { ok: true };
  if (marks.has('live')) return { ok: true, liveMs: Number(marks.get('live')) };
  if (marks.has('reload')) {
    const shown = typeof lb.reload === 'string' ? lb.reload : lb.reload.join(' ');
    return { ok: false, message: `failed to reload (${safeText(shown)} exited with ${marks.get('reload')}):\n${quoteLines(quoted)}` };
  }
  if (marks.has('emerg'))
    return {
      ok: false,
      message: `nginx did not take the new configuration at reload; its error log (${safeText(errorLog)}) says:\n${quoteLines(quoted)}`,
    };
  const why = marks.has('nopid')
    ? `no nginx master pid in ${safeText(marks.get('nopid') ?? '')} (set "pidFile" of this load balancer)`
    : /seen=0/.test(marks.get('timeout') ?? '')
      ? `the status endpoint (${status}) never answered generation ${o.generation}`
      : `workers of the previous configuration still accept connections`;
  return {
    ok: false,
    message: `the reload did not take effect within ${deadline} ms (${why}); nginx's error log (${safeText(errorLog)}) says:\n${quoteLines(quoted)}`,
  };
}

/**
 * The reload call of one LB, started beside its stage call (mode wait) so that its ssh session is
 * up by the time every LB was tested: `go` lets it reload and confirm, `putBack` has it restore the
 * previous file without a reload (what revert does for an LB not reloaded). Still one call per phase.
 */
function startReload(s: LbState, op: string, deadlineMs: number, timeoutMs: number) {
  const input = new PassThrough();
  const opts = { reload: true, generation: s.generation, deadlineMs, op, timeoutMs: 2 * timeoutMs };
  const result = runReload(s.lb, s.transport, { ...opts, mode: 'wait', input }).then(
    (r) => ({ r }),
    (err: unknown) => ({ err: err instanceof Error ? err : new Error(String(err)) }),
  );
  let told = false;
  const tell = (text: string) => {
    if (!told) input.end(text);
    told = true;
  };
  return {
    go(): void {
      tell(`go\n${s.pidFile}\n${s.errorLog}\n${s.appliedText ?? ''}`);
    },
    putBack(mode: 'restore' | 'remove' | 'keep' | 'stop'): void {
      tell(`${mode}\n`);
    },
    async outcome(): Promise<{ outcome?: ReloadOutcome; err?: Error }> {
      const x = await result;
      return 'err' in x ? { err: x.err } : { outcome: reloadOutcome(s.lb, x.r, { ...opts, pidFile: s.pidFile, errorLog: s.errorLog }) };
    },
  };
}

/** A script that found its LB file taken over by a later command (this one was killed, its script ran on). */
function superseded(lb: LoadBalancerConfig, by: string | undefined): string {
  return `another Phar Rollout command took over ${lb.file} (script ${safeText(by ?? '?')}) while this one ran: nothing more was changed by this one; run "phar-rollout status" to see what nginx serves`;
}

/**
 * Changes the managed file of one or many LBs together, and returns once nginx SERVES it.
 * 1. on every LB, one call: write the intent (owner, pid, host, before/after generation, time) beside
 *    the file, stage `<file>.new`, copy the live file to `<file>.prev`,
 *    rename `.new` over it and run the LB's `test` (as `nginx -T` when pidFile/errorLog are not set,
 *    to learn them);
 * 2. when every test passed, on every LB, one call: stage the applied configuration, reload and
 *    confirm live: the status endpoint
 *    answers the new generation and no worker of the previous configuration still accepts
 *    connections (read from /proc), within `confirmDeadlineMs`. A reload nginx ignores (exit 0 but its
 *    error log says why) is a failure quoting the error log.
 * On ANY failure every swapped LB gets its previous file back, and those reloaded (or tried) are
 * reloaded and confirmed on the previous generation; the error names the LB with nginx's own words.
 * A signal that fires after the first call started lets the running scripts finish, then reverts the
 * same way and throws CancelledError "Cancelled, every load balancer is back on N %".
 * The intent is marked done (`<file>.intent.done`) once the change is live or fully reverted; an
 * unfinished one is what `reconcile` repairs after a crash.
 */
export async function applyFiles(changes: readonly LbFileChange[], options: ApplyOptions = {}): Promise<AppliedLb[]> {
  const log = options.log ?? nullLogger;
  const timeoutMs = options.commandTimeoutMs ?? 30000;
  const deadlineMs = options.confirmDeadlineMs ?? 10000;
  if (changes.length === 0) throw noLoadBalancerError();
  throwIfAborted(options.signal);
  const states: LbState[] = changes.map((c) => ({
    ...c,
    generation: parseHeader(c.text)?.generation,
    status: statusAddress(c.lb),
    pidFile: c.lb.pidFile ?? DEFAULT_PID_FILE,
    errorLog: c.lb.errorLog ?? DEFAULT_ERROR_LOG,
    staged: false,
    swapped: false,
    hadFile: false,
    reloadTried: false,
  }));
  const op = randomBytes(8).toString('hex');
  const time = new Date().toISOString();
  const lbs = states.map((s) => ({ name: s.lb.name, ssh: s.lb.ssh, file: s.lb.file }));
  const owner = options.owner ?? defaultOwner();

  // 1. Stage, intent, swap, test: one call per LB, all in parallel.
  options.onProgress?.({
    message: `testing the new configuration on ${states.length === 1 ? states[0].lb.name : `${states.length} load balancers`}`,
  });
  const staging = Promise.allSettled(
    states.map((s) => {
      const after = parseHeader(s.text);
      const intent = JSON.stringify({
        version: 1,
        op,
        owner,
        pid: process.pid,
        pidStart: processStart(process.pid),
        host: os.hostname(),
        time,
        lb: s.lb.name,
        file: s.lb.file,
        generation: s.generation ?? null,
        split: after?.split ?? null,
        lbs,
      });
      const applied = JSON.stringify({
        version: 1,
        generation: s.generation ?? null,
        split: after?.split ?? null,
        time,
        lb: s.lb.name,
        ...(s.applied ?? {}),
        file: s.text,
      });
      s.appliedText = applied;
      return stage(s, intent, op, timeoutMs);
    }),
  );
  // The reload calls start now, beside the stages (they wait for word on stdin): their ssh sessions
  // are up by the time every LB was tested, so the second phase costs no new session set-up.
  const reloads = states.map((s) => startReload(s, op, deadlineMs, timeoutMs));
  const testErrors = failures(await staging);
  if (testErrors.length > 0 || options.signal?.aborted) {
    const revertErrors = await putBack(states, reloads, log);
    if (testErrors.length === 0) throw cancelled(states, revertErrors);
    throw combine([...testErrors, ...revertErrors], revertMessage(revertErrors));
  }

  // 2. Reload and confirm live everywhere.
  options.onProgress?.({ message: 'reloading and confirming live' });
  const reloaded = await Promise.allSettled(
    states.map(async (s, k) => {
      s.reloadTried = true;
      reloads[k].go();
      const { outcome: r, err } = await reloads[k].outcome();
      if (err || !r)
        throw lbError(
          `load balancer "${s.lb.name}" (${s.transport.host}): reload could not run: ${err?.message ?? 'no answer'}`,
          'reload',
          s.lb.name,
          err,
        );
      if (!r.ok) throw lbError(`load balancer "${s.lb.name}" ${r.message}`, 'reload', s.lb.name);
      s.liveMs = r.liveMs;
      log.debug(`${s.lb.name}: generation ${s.generation ?? '?'} live ${r.liveMs} ms after the reload`);
    }),
  );
  const reloadErrors = failures(reloaded);
  if (reloadErrors.length > 0 || options.signal?.aborted) {
    const revertErrors = await revert(states, op, deadlineMs, timeoutMs, log);
    if (reloadErrors.length === 0) throw cancelled(states, revertErrors);
    throw combine([...reloadErrors, ...revertErrors], revertMessage(revertErrors));
  }

  return states.map((s) => ({
    name: s.lb.name,
    host: s.transport.host,
    file: s.lb.file,
    beforeText: s.beforeText,
    before: s.beforeText === undefined ? undefined : parseHeader(s.beforeText),
    after: parseHeader(s.text),
    generation: s.generation,
    liveMs: s.liveMs,
  }));
}

function cancelled(states: readonly LbState[], revertErrors: Error[]): Error {
  if (revertErrors.length > 0)
    return combine(revertErrors, 'Cancelled, but restoring the previous files failed (above): check them by hand.');
  return new CancelledError(`Cancelled, ${backOn(states)}`);
}

/** `user@host` of this process: the intent's owner when the caller names none. */
function defaultOwner(): string {
  try {
    return `${os.userInfo().username}@${os.hostname()}`;
  } catch {
    return `pid ${process.pid}@${os.hostname()}`;
  }
}

function revertMessage(revertErrors: Error[]): string {
  return revertErrors.length === 0
    ? 'Every load balancer is back on its previous file.'
    : 'Restoring the previous files failed on some load balancers (above): check them by hand; the previous file is <file>.prev.';
}

/**
 * After a failed or cancelled test phase: each LB's waiting reload call puts its file back without a
 * reload (nothing was reloaded yet) and marks the intent done, or (not staged) just ends.
 */
async function putBack(states: LbState[], reloads: Array<ReturnType<typeof startReload>>, log: Logger): Promise<Error[]> {
  for (const [k, s] of states.entries()) reloads[k].putBack(!s.staged ? 'stop' : !s.swapped ? 'keep' : s.hadFile ? 'restore' : 'remove');
  const results = await Promise.allSettled(
    states.map(async (s, k) => {
      const { outcome: r, err } = await reloads[k].outcome();
      if (!s.staged) return;
      if (err || !r)
        throw lbError(
          `load balancer "${s.lb.name}": restoring the previous file failed: ${err?.message ?? 'no answer'}`,
          'revert',
          s.lb.name,
          err,
        );
      if (!r.ok) throw lbError(`load balancer "${s.lb.name}": going back to the previous file: ${r.message}`, 'revert', s.lb.name);
      if (s.swapped) log.info(`${s.lb.name}: previous file restored`);
      s.swapped = false;
    }),
  );
  return failures(results);
}

/**
 * Puts every swapped LB back on its previous file, reloads and confirms those that had been reloaded
 * (or tried), and marks every staged LB's intent done: one call per LB.
 */
async function revert(states: LbState[], op: string, deadlineMs: number, timeoutMs: number, log: Logger): Promise<Error[]> {
  const results = await Promise.allSettled(
    states
      .filter((s) => s.staged)
      .map(async (s) => {
        const before = s.beforeText === undefined ? undefined : parseHeader(s.beforeText);
        let r: ReloadOutcome;
        try {
          r = await reloadConfirmed(s.lb, s.transport, {
            mode: !s.swapped ? 'keep' : s.hadFile ? 'restore' : 'remove',
            reload: s.reloadTried,
            generation: before?.generation,
            // The previous file answers where IT listens (a change of address may be what failed).
            status: (s.beforeText && statusAddressIn(s.beforeText)) || s.status,
            pidFile: s.pidFile,
            errorLog: s.errorLog,
            deadlineMs,
            op,
            timeoutMs,
          });
        } catch (err) {
          throw lbError(
            `load balancer "${s.lb.name}": restoring the previous file failed: ${(err as Error).message}`,
            'revert',
            s.lb.name,
            err,
          );
        }
        if (!r.ok) throw lbError(`load balancer "${s.lb.name}": going back to the previous file: ${r.message}`, 'revert', s.lb.name);
        if (s.swapped) log.info(`${s.lb.name}: previous file restored${s.reloadTried ? ', reloaded and confirmed live' : ''}`);
        s.swapped = false;
      }),
  );
  return failures(results);
}
/** The managed file for `lb` at `split`, with the project's traffic settings. */
export function renderFor(
  config: Pick<RolloutConfig, 'backends' | 'traffic'>,
  lb: LoadBalancerConfig,
  split: number,
  time: Date,
  drained?: ReadonlySet<string>,
): string {
  const upstream = renderUpstream({
    drained,
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
  // Kept beside the intent on the LB: with rollout.json broken later, status and a traffic rollback
  // work from this (readAppliedConfig).
  const full = config as Partial<RolloutConfig>;
  const rolloutJson = full.file ? readRolloutText(full.file) : undefined;
  const applied = { config, ...(rolloutJson !== undefined ? { rolloutJson } : {}) };
  const changes = config.loadBalancers.map((lb) => ({ lb, transport: transportOf(lb), text: renderFor(config, lb, split, time), applied }));
  const result = await applyFiles(changes, options);
  for (const a of result)
    (options.log ?? nullLogger).info(
      `${a.name}: ${a.before ? `${formatSplit(a.before.split)} %` : 'unmanaged'} → ${formatSplit(split)} % canary (live)`,
    );
  return result;
}

function readRolloutText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
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
