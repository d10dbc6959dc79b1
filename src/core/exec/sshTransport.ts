import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, InputError, OperationError } from '../errors';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { ProcessError, run } from './process';
import type { RunResult } from './process';
import { shellCommand } from './quote';
import { uploadThroughCat } from './transport';
import type { ExecOptions, Transport, UploadOptions } from './transport';
import type { CommandSpec } from '../config/rolloutConfig';

/** How to reach hosts with the user's own OpenSSH client. */
export interface SshOptions {
  /** The ssh executable (setting `pharRollout.sshPath`). Default "ssh". */
  sshPath?: string;
  /**
   * Extra arguments placed before the destination (setting `pharRollout.sshArgs`), e.g.
   * `["-F", "/path/config"]` or `["-i", key, "-p", "2222", "-o", "UserKnownHostsFile=..."]`.
   * They win over our soft defaults (ConnectTimeout, ServerAlive*) but never over BatchMode or
   * the multiplexing options; switching host key checking off is refused.
   */
  sshArgs?: readonly string[];
  /** Seconds an idle master stays up after the last command. Default 60. */
  controlPersistSeconds?: number;
  /** Use one shared master connection per host (default true; the bench turns it off to compare). */
  multiplex?: boolean;
  log?: Logger;
}

/** Options that would silently trust any host key: we never pass them, and refuse them from settings. */
const FORBIDDEN = [/^stricthostkeychecking\s*[= ]\s*(no|off)$/i, /^userknownhostsfile\s*[= ]\s*\/dev\/null$/i];

/** Rejects extra ssh arguments that switch host key checking off. */
export function checkSshArgs(args: readonly string[]): void {
  args.forEach((arg, i) => {
    const value = arg.startsWith('-o') && arg.length > 2 ? arg.slice(2) : args[i - 1] === '-o' ? arg : undefined;
    if (value !== undefined && FORBIDDEN.some((re) => re.test(value.trim()))) {
      throw new InputError(`The ssh option "${value}" switches host key checking off`, {
        hint: 'Add the host to your known_hosts instead (ssh-keyscan, then check the fingerprint).',
      });
    }
  });
}

/** ssh's own failures (cannot connect, auth, lost connection) exit with 255. */
const SSH_FAILURE = 255;
/** First stderr line of every remote command: its pid, so that cancelling can kill it. */
const PID_MARK = '@phar-rollout-pid ';
const PID_LINE = /^@phar-rollout-pid \d+\n?/m;

/**
 * Runs commands on one host through the system `ssh`: BatchMode (never prompts), the user's
 * config and agent, host keys checked as ssh always does, and one multiplexed master connection
 * (ControlMaster/ControlPersist, socket in a private 0700 directory) so a deploy pays one
 * handshake per host. Every remote command line is built by `shellCommand` from an argument array.
 */
export class SshTransport implements Transport {
  private controlDir: string | undefined;
  private connecting: Promise<void> | undefined;
  private readonly sshPath: string;
  private readonly sshArgs: readonly string[];
  private readonly log: Logger;

  constructor(
    readonly host: string,
    private readonly options: SshOptions = {},
  ) {
    if (!host || host.startsWith('-') || /[\s\0]/.test(host)) {
      throw new InputError(`"${host}" is not an ssh destination`, { hint: 'Use user@host or a Host alias from ~/.ssh/config.' });
    }
    this.sshPath = options.sshPath || 'ssh';
    this.sshArgs = options.sshArgs ?? [];
    checkSshArgs(this.sshArgs);
    this.log = options.log ?? nullLogger;
  }

  private get multiplex(): boolean {
    return this.options.multiplex !== false;
  }

  /** The ControlPath socket pattern; %C is a hash of host, port and user, so it stays short. */
  private controlPath(): string {
    if (!this.controlDir) {
      // mkdtemp creates the directory with mode 0700: nobody else can reach the socket.
      // A socket path must stay under ~104 bytes; fall back to /tmp if TMPDIR is long.
      const base = os.tmpdir().length <= 48 ? os.tmpdir() : '/tmp';
      this.controlDir = mkdtempSync(path.join(base, 'phar-rollout-ssh-'));
    }
    return path.join(this.controlDir, '%C');
  }

  /** Arguments before the destination: mandatory first (ssh keeps the first value it sees). */
  private baseArgs(): string[] {
    const args = ['-T', '-o', 'BatchMode=yes'];
    if (this.multiplex) {
      args.push(
        '-o',
        'ControlMaster=auto',
        '-o',
        `ControlPath=${this.controlPath()}`,
        '-o',
        `ControlPersist=${this.options.controlPersistSeconds ?? 60}`,
      );
    } else {
      args.push('-o', 'ControlMaster=no', '-o', 'ControlPath=none');
    }
    args.push(...this.sshArgs);
    args.push('-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3');
    return args;
  }

  /**
   * Opens the master once; concurrent first calls wait for it instead of racing to become master
   * (the losers would silently fall back to their own connection and handshake).
   */
  private connect(options: ExecOptions): Promise<void> {
    if (!this.multiplex) return Promise.resolve();
    this.connecting ??= (async () => {
      const started = Date.now();
      await this.runSsh(['true'], { signal: options.signal, timeoutMs: options.timeoutMs ?? 30000 });
      this.log.debug(`ssh ${this.host}: connected in ${Date.now() - started} ms`);
    })().catch((err) => {
      this.connecting = undefined; // let the next call try again
      throw err;
    });
    return this.connecting;
  }

  /**
   * Runs one remote command. Cancellation and timeouts must reach the remote process: killing
   * the local ssh is not enough with multiplexing (the master holds our pipes and the command
   * runs on to its end). So the command runs under a tiny `sh` that reports its pid on stderr
   * and then execs it; on abort or timeout we kill that process group on the host.
   */
  private async runSsh(remoteArgs: readonly string[], options: ExecOptions): Promise<RunResult> {
    const remote = shellCommand(remoteArgs);
    const wrapped = shellCommand(['sh', '-c', `echo "${PID_MARK}$$" >&2; exec "$@"`, 'sh', ...remoteArgs]);
    let remotePid: number | undefined;
    let pidSeen = false;
    let stopping: 'cancel' | 'timeout' | undefined;
    const local = new AbortController();
    const killRemote = () => {
      if (remotePid === undefined) return; // killed as soon as its pid arrives
      const pid = String(remotePid);
      remotePid = undefined;
      // A new session on the same master; the command's session is its own process group.
      void run(
        this.sshPath,
        [...this.baseArgs(), '--', this.host, shellCommand(['sh', '-c', 'kill -TERM -"$1" 2>/dev/null || kill -TERM "$1"', 'sh', pid])],
        {
          timeoutMs: 10000,
          allowFailure: true,
        },
      ).catch(() => undefined);
    };
    const stop = (why: 'cancel' | 'timeout') => {
      stopping ??= why;
      killRemote();
      local.abort();
    };
    const onAbort = () => stop('cancel');
    if (options.signal?.aborted) throw new CancelledError();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = options.timeoutMs ? setTimeout(() => stop('timeout'), options.timeoutMs) : undefined;
    let result: RunResult;
    try {
      result = await run(this.sshPath, [...this.baseArgs(), '--', this.host, wrapped], {
        input: options.input,
        signal: local.signal,
        allowFailure: true,
        onLine: (line, stream) => {
          if (stream === 'stderr' && !pidSeen && line.startsWith(PID_MARK)) {
            pidSeen = true;
            remotePid = Number(line.slice(PID_MARK.length)) || undefined;
            if (stopping) killRemote();
            return;
          }
          options.onLine?.(line, stream);
        },
      });
    } catch (err) {
      if (err instanceof CancelledError && stopping === 'timeout') {
        throw new OperationError(`${remote} timed out after ${options.timeoutMs} ms on ${this.host}`, { step: 'timeout', host: this.host });
      }
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    result = { ...result, args: [...this.baseArgs(), '--', this.host, remote], stderr: result.stderr.replace(PID_LINE, '') };
    if (result.code === SSH_FAILURE) {
      const why = result.stderr.trim().split('\n').slice(-3).join(' ') || 'exit 255';
      throw new OperationError(`ssh ${this.host}: ${why}`, { step: 'ssh', host: this.host });
    }
    if (result.code !== 0 && !options.allowFailure) {
      const why = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
      throw new ProcessError(result, `${remote} exited with ${result.code ?? result.signal} on ${this.host}${why ? `: ${why}` : ''}`);
    }
    return result;
  }

  /** Runs an exact argument vector on the host (quoted by shellCommand). Exit 255 is ssh's and always throws. */
  async exec(args: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    await this.connect(options);
    return this.runSsh(args, options);
  }

  command(spec: CommandSpec, options: ExecOptions = {}): Promise<RunResult> {
    return this.exec(typeof spec === 'string' ? ['sh', '-c', spec] : spec, options);
  }

  /** Streams the file into `cat > remotePath` over the connection; `onProgress` gets bytes read so far. */
  async upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<RunResult | void> {
    await this.connect(options);
    return uploadThroughCat((args, o) => this.runSsh(args, o), localPath, remotePath, options);
  }

  /** The master's pid (tests cut the connection with it), or undefined when none runs. */
  async masterPid(): Promise<number | undefined> {
    if (!this.multiplex || !this.controlDir) return undefined;
    const r = await run(this.sshPath, [...this.baseArgs(), '-O', 'check', '--', this.host], { allowFailure: true, timeoutMs: 5000 });
    const m = /pid=(\d+)/.exec(r.stderr + r.stdout);
    return m ? Number(m[1]) : undefined;
  }

  /** Closes the master (`ssh -O exit`) and removes the private socket directory. */
  async dispose(): Promise<void> {
    this.connecting = undefined;
    if (!this.controlDir) return;
    const dir = this.controlDir;
    try {
      await run(this.sshPath, [...this.baseArgs(), '-O', 'exit', '--', this.host], { allowFailure: true, timeoutMs: 5000 });
    } catch (err) {
      this.log.debug(`ssh ${this.host}: closing the master failed: ${(err as Error).message}`);
    }
    this.controlDir = undefined;
    rmSync(dir, { recursive: true, force: true });
  }
}
