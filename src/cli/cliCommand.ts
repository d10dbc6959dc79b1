import type { parseArgs } from 'node:util';
import type { Logger } from '../core/log';

export interface CliContext {
  /** Human progress and logs go to stderr, so stdout stays clean for --json. */
  log: Logger;
  stdout: (text: string) => void;
  signal: AbortSignal;
  /** Absolute path of the shipped PHP compiler script. */
  compilerScript: string;
}

export type CliOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** One CLI verb, one file under src/cli/, registered in src/cli.ts. Returns the exit code. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  options: CliOptions;
  /** Allow positional arguments (e.g. `ramp 25`). */
  positionals?: boolean;
  run(values: Record<string, string | boolean | string[] | boolean[] | undefined>, positionals: string[], ctx: CliContext): Promise<number>;
}

/** Exit codes shared by every verb. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
