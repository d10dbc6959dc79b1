import type { CliCommand } from './cliCommand';
import { buildCommand } from './build';

/** Every CLI verb, in the order `--help` lists them. One file per verb under src/cli/. */
export const commands: CliCommand[] = [
  buildCommand,
];
