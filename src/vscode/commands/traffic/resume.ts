import * as vscode from 'vscode';
import { resume as coreResume } from '../../../core/rollout/resume';
import type { RolloutState } from '../../../core/rollout/types';
import { Commands } from '../../contributions';
import { formatPercent } from '../../format';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { checkResumePreconditions } from './preconditions';

/** Resume Rollout: the split stays; the next ramp continues the plan. */
export async function resume(ctx: CommandContext): Promise<RolloutState | undefined> {
  const config = requireConfig(ctx);
  if (!(await checkResumePreconditions(ctx, config))) return undefined;
  const state = await ctx.withProgress('Phar Rollout: Resuming', (signal, report) =>
    coreResume(config, rolloutOptions(ctx, signal, report)),
  );
  await ctx.model.refreshLive();
  void vscode.window
    .showInformationMessage(
      `Rollout resumed at ${formatPercent(state.split)}: the next ramp continues the plan.`,
      'Next Step',
      'Roll Back…',
    )
    .then((picked) => {
      if (picked === 'Next Step') void vscode.commands.executeCommand(Commands.ramp, undefined, { next: true });
      else if (picked === 'Roll Back…') void vscode.commands.executeCommand(Commands.rollback);
    });
  return state;
}
