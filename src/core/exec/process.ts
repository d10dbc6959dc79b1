import { spawn } from 'node:child_process';
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
  /** Keep at most this many bytes of each stream in the result (default 8 MiB). */
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

/**
 * Runs one process from an argument array (never through a shell), streaming its lines.
 * Rejects with CancelledError when `signal` aborts (the process gets SIGTERM, then SIGKILL),
 * with ProcessError on a non-zero exit unless `allowFailure`.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const maxBuffer = options.maxBuffer ?? 8 * 1024 * 1024;
  return new Promise<RunResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let cancelled = false;
    let timedOut = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    const kill = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
      killTimer.unref();
    };
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs)
      : undefined;

    const collect = (stream: 'stdout' | 'stderr') => {
      let pending = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'stdout') {
          if (stdout.length < maxBuffer) stdout += text;
        } else if (stderr.length < maxBuffer) stderr += text;
        if (options.onLine) {
          pending += text;
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) options.onLine(line.replace(/\r$/, ''), stream);
        }
      };
    };
    const outCollector = collect('stdout');
    const errCollector = collect('stderr');
    child.stdout.on('data', outCollector);
    child.stderr.on('data', errCollector);

    const finish = (err: Error | undefined, result?: RunResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(result!);
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ENOENT' ? ` (is ${command} installed and on PATH?)` : '';
      finish(new OperationError(`Cannot start ${command}: ${err.message}${hint}`, { step: 'spawn', command, cause: err }));
    });
    child.on('close', (code, signal) => {
      // Flush a last line that had no newline.
      if (options.onLine) {
        outCollector(Buffer.from('\n'));
        errCollector(Buffer.from('\n'));
        stdout = stdout.slice(0, -1);
        stderr = stderr.slice(0, -1);
      }
      const result: RunResult = { command, args, code, signal, stdout, stderr, durationMs: Date.now() - started };
      if (cancelled) return finish(new CancelledError());
      if (timedOut) return finish(new ProcessError(result, `${command} timed out after ${options.timeoutMs} ms`));
      if (code !== 0 && !options.allowFailure) return finish(new ProcessError(result));
      finish(undefined, result);
    });

    child.stdin.on('error', () => undefined); // the process may exit before reading its input
    if (options.input === undefined) child.stdin.end();
    else if (typeof options.input === 'string' || Buffer.isBuffer(options.input)) child.stdin.end(options.input);
    else options.input.pipe(child.stdin);
  });
}
