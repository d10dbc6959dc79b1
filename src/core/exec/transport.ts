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
  /**
   * Copies a local file to `remotePath` on the host (the parent must exist). With `script`, that
   * fixed script runs instead of `cat` (same trip) and its result is returned, failures included.
   */
  upload(localPath: string, remotePath: string, options?: UploadOptions): Promise<RunResult | void>;
  /** Releases connections (ssh master). */
  dispose(): Promise<void>;
}

export type UploadOptions = ExecOptions & {
  onProgress?: (bytes: number) => void;
  /** A fixed `sh -c` script reading the file on stdin, given `remotePath` as $1 and `args` after it. */
  script?: { text: string; args: readonly string[] };
};

/**
 * Streams a local file into `cat > remotePath` run by `exec` (both transports, so both behave alike on
 * partial writes); `onProgress` gets the bytes read so far. The stream is closed on every path (an
 * abort or a failed cat would leave the file open otherwise). With `options.script`, returns its result.
 */
export async function uploadThroughCat(
  exec: (args: readonly string[], options: ExecOptions) => Promise<RunResult>,
  localPath: string,
  remotePath: string,
  options: UploadOptions,
): Promise<RunResult | void> {
  const stream = createReadStream(localPath);
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    options.onProgress?.(bytes);
  });
  try {
    const { script, onProgress: _onProgress, ...rest } = options;
    if (script)
      return await exec(['sh', '-c', script.text, 'sh', remotePath, ...script.args], { ...rest, input: stream, allowFailure: true });
    await exec(['sh', '-c', 'cat > "$1"', 'sh', remotePath], { ...rest, input: stream });
  } finally {
    stream.destroy();
  }
}
