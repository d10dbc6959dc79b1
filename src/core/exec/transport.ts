import { createReadStream } from 'node:fs';
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

export type UploadOptions = ExecOptions & { onProgress?: (bytes: number) => void };

/**
 * Streams a local file into `cat > remotePath` run by `exec` (both transports, so both behave alike on
 * partial writes); `onProgress` gets the bytes read so far. The stream is closed on every path (an
 * abort or a failed cat would leave the file open otherwise).
 */
export async function uploadThroughCat(
  exec: (args: readonly string[], options: ExecOptions) => Promise<unknown>,
  localPath: string,
  remotePath: string,
  options: UploadOptions,
): Promise<void> {
  const stream = createReadStream(localPath);
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    options.onProgress?.(bytes);
  });
  try {
    await exec(['sh', '-c', 'cat > "$1"', 'sh', remotePath], { ...options, input: stream });
  } finally {
    stream.destroy();
  }
}
