import type { Logger } from '../core/log';

export interface CliContext {
  /** Human progress and logs go to stderr, so stdout stays clean for --json. */
  log: Logger;
  stdout: (text: string) => void;
  signal: AbortSignal;
  /** Absolute path of the shipped PHP compiler script. */
  compilerScript: string;
}

/** One option as node's parseArgs takes it. */
export type CliOption = { type: 'string'; short?: string; multiple?: boolean } | { type: 'boolean'; short?: string };

/** A verb's options, by long name. */
export type CliOptions = Record<string, CliOption>;

/** What parseArgs returns for `O`: strings (lists with `multiple`), booleans, absent when not given. */
export type CliValues<O extends CliOptions> = {
  [K in keyof O]?: O[K] extends { type: 'string'; multiple: true } ? string[] : O[K] extends { type: 'string' } ? string : boolean;
};

/** One CLI verb, one file under src/cli/, listed in src/cli/commandTable.ts. `run` returns the exit code. */
export interface CliCommand<O extends CliOptions = CliOptions> {
  name: string;
  summary: string;
  usage: string;
  options: O;
  /** Allow positional arguments (e.g. `ramp 25`). */
  positionals?: boolean;
  run(values: CliValues<O>, positionals: string[], ctx: CliContext): Promise<number>;
}

/** A verb with its option types checked against its `run`; the table holds them erased. */
export function defineCommand<const O extends CliOptions>(command: CliCommand<O>): CliCommand {
  return command as unknown as CliCommand;
}

/** `--project DIR` (default: the current folder), which every project verb takes. */
export const projectOption = { project: { type: 'string', short: 'p' } } as const;

/** `--json`: print the result as JSON on stdout, exactly as the core returns it. */
export const jsonOption = { json: { type: 'boolean' } } as const;

/** Exit codes shared by every verb. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
