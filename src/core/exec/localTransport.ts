import { run } from './process';
import type { RunResult } from './process';
import { uploadThroughCat } from './transport';
import type { ExecOptions, Transport, UploadOptions } from './transport';
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

  upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<RunResult | void> {
    return uploadThroughCat((args, o) => this.exec(args, o), localPath, remotePath, options);
  }

  async dispose(): Promise<void> {}
}
