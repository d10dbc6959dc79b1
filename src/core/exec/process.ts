import { execa } from 'execa';
import type { Options } from 'execa';
import type { Readable } from 'node:stream';
import { CancelledError, OperationError } from '../errors';

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) process.env. */
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Kills the process after this many ms and fails with a timeout error. */
  timeoutMs?: number;
  /** Data written to stdin, then stdin is closed. A stream is piped. */
  input?: string | Buffer | Readable;
  /** Each complete line of stdout and stderr, as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  allowFailure?: boolean;
  /** Keep at most this many bytes of each stream in the result (default 8 MiB); the process runs on. */
  maxBuffer?: number;
}

export interface RunResult {
  command: string;
  args: readonly string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A process that ran and failed; carries its output for the error message. */
export class ProcessError extends OperationError {
  constructor(
    readonly result: RunResult,
    message?: string,
  ) {
    super(
      message ??
        `${[result.command, ...result.args].join(' ')} exited with ${result.code ?? result.signal}` +
          (lastLines(result.stderr || result.stdout) ? `: ${lastLines(result.stderr || result.stdout)}` : ''),
    );
  }
}

function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Grace between SIGTERM and SIGKILL when a process is stopped. */
const KILL_GRACE_MS = 2000;

/**
 * One stream's line transform: hands each line to `onLine` and keeps at most `cap` characters of
 * the stream in the result (execa's own maxBuffer would kill the process instead).
 */
function lineTap(stream: 'stdout' | 'stderr', cap: number, onLine: RunOptions['onLine']) {
  let kept = 0;
  return {
    preserveNewlines: true,
    *transform(chunk: unknown) {
      const line = String(chunk); // lines arrive as strings (binary: false)
      onLine?.(line.replace(/\r?\n$/, ''), stream);
      if (kept >= cap) return;
      const part = line.length <= cap - kept ? line : line.slice(0, cap - kept);
      kept += part.length;
      yield part;
    },
  };
}

/** Signals the whole process group (the child runs detached, as its leader); gone is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Runs one process from an argument array (never through a shell), streaming its lines.
 * The process leads its own process group: cancelling (`signal`) or a timeout stops the whole
 * group (SIGTERM, then SIGKILL after 2 s), so a hook's own children die with it; a normal exit
 * leaves daemons it started alone. Rejects with CancelledError on abort, with ProcessError on a
 * timeout or (unless `allowFailure`) a non-zero exit.
 */
export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  if (options.signal?.aborted) throw new CancelledError();
  const cap = options.maxBuffer ?? 8 * 1024 * 1024;
  const stopper = new AbortController();
  let stopped: 'cancel' | 'timeout' | undefined;
  let pid: number | undefined;
  const stop = (why: 'cancel' | 'timeout') => {
    stopped ??= why;
    killGroup(pid, 'SIGTERM');
    stopper.abort();
    // Not cleared on exit: a grandchild that ignores SIGTERM outlives the leader.
    setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref();
  };
  const onAbort = () => stop('cancel');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
  try {
    const execaOptions: Options = {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      cancelSignal: stopper.signal,
      forceKillAfterDelay: KILL_GRACE_MS,
      reject: false,
      stripFinalNewline: false,
      maxBuffer: cap + 1,
      // No input: the child reads an empty stdin (EOF at once), as with a closed pipe.
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
      stdout: lineTap('stdout', cap, options.onLine),
      stderr: lineTap('stderr', cap, options.onLine),
    };
    const child = execa(command, args, execaOptions);
    pid = child.pid;
    const r = await child;
    const result: RunResult = {
      command,
      args,
      code: r.exitCode ?? null,
      signal: (r.signal as NodeJS.Signals | undefined) ?? null,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      durationMs: Math.round(r.durationMs),
    };
    if (stopped === 'cancel') throw new CancelledError();
    if (stopped === 'timeout') throw new ProcessError(result, `${command} timed out after ${options.timeoutMs} ms`);
    if (r.failed && r.exitCode === undefined && r.signal === undefined) {
      // It never started: execa keeps spawn's own error (ENOENT, EACCES) as the cause.
      const spawnError = (r as { cause?: unknown }).cause;
      const cause = spawnError instanceof Error ? (spawnError as NodeJS.ErrnoException) : undefined;
      const hint = cause?.code === 'ENOENT' ? ` (is ${command} installed and on PATH?)` : '';
      throw new OperationError(`Cannot start ${command}: ${cause?.message ?? r.shortMessage}${hint}`, { step: 'spawn', command, cause });
    }
    if (result.code !== 0 && !options.allowFailure) throw new ProcessError(result);
    return result;
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
