import { createReadStream } from 'node:fs';
import { run } from './process';
import type { RunResult } from './process';
import type { ExecOptions, Transport } from './transport';
import type { CommandSpec } from '../config/rolloutConfig';

/** Runs on this machine. Remote-shaped operations (upload) become plain file copies through `cat`. */
export class LocalTransport implements Transport {
  readonly host = 'local';

  exec(args: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const [cmd, ...rest] = args;
    return run(cmd, rest, options);
  }

  command(spec: CommandSpec, options: ExecOptions = {}): Promise<RunResult> {
    return typeof spec === 'string' ? run('sh', ['-c', spec], options) : this.exec(spec, options);
  }

  async upload(localPath: string, remotePath: string, options: ExecOptions & { onProgress?: (bytes: number) => void } = {}): Promise<void> {
    const stream = createReadStream(localPath);
    let bytes = 0;
    stream.on('data', (chunk) => {
      bytes += chunk.length;
      options.onProgress?.(bytes);
    });
    try {
      // Same path as ssh (`cat > file`), so both transports behave alike on partial writes.
      await run('sh', ['-c', 'cat > "$1"', 'sh', remotePath], { ...options, input: stream });
    } finally {
      stream.destroy(); // an abort or a failed cat leaves the file open otherwise
    }
  }

  async dispose(): Promise<void> {}
}
