import type { RunOptions, RunResult } from './process';
import type { CommandSpec } from '../config/rolloutConfig';

export type ExecOptions = Pick<RunOptions, 'signal' | 'timeoutMs' | 'input' | 'onLine' | 'allowFailure'>;

/**
 * Runs commands and moves files on one host: this machine (local) or a server over the user's ssh.
 * Arguments are always arrays; the ssh transport quotes them with `shellCommand`.
 */
export interface Transport {
  /** "local" or the ssh destination; used in messages and lock owners. */
  readonly host: string;
  /** Runs an exact argument vector on the host. */
  exec(args: readonly string[], options?: ExecOptions): Promise<RunResult>;
  /** Runs a user-written command (string: `sh -c`, array: exact) on the host. */
  command(spec: CommandSpec, options?: ExecOptions): Promise<RunResult>;
  /** Copies a local file to `remotePath` on the host (the parent must exist). */
  upload(localPath: string, remotePath: string, options?: ExecOptions & { onProgress?: (bytes: number) => void }): Promise<void>;
  /** Releases connections (ssh master). */
  dispose(): Promise<void>;
}
