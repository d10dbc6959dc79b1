import type { CliCommand } from './cliCommand';

/** Every CLI verb, in the order `--help` lists them. One file per verb under src/cli/. */
export const commands: CliCommand[] = [];
