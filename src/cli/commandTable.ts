import type { CliCommand } from './cliCommand';
import { buildCommand } from './build';
import { rampCommand } from './ramp';
import { runCommand } from './run';
import { promoteCommand } from './promote';
import { rollbackCommand } from './rollback';
import { pauseCommand } from './pause';
import { resumeCommand } from './resume';
import { verifySplitCommand } from './verifySplit';
import { historyCommand } from './history';
import { unlockCommand } from './unlock';
import { recoverCommand } from './recover';
import { deployCommand } from './deploy';
import { statusCommand } from './status';
import { sandboxCommand } from './sandbox';

/** Every CLI verb, in the order `--help` lists them. One file per verb under src/cli/. */
export const commands: CliCommand[] = [
  buildCommand,
  deployCommand,
  statusCommand,
  rampCommand,
  runCommand,
  promoteCommand,
  rollbackCommand,
  pauseCommand,
  resumeCommand,
  verifySplitCommand,
  historyCommand,
  unlockCommand,
  recoverCommand,
  sandboxCommand,
];
