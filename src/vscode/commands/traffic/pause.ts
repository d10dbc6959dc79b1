import * as vscode from 'vscode';
import { pause as corePause } from '../../../core/rollout/pause';
import type { RolloutState } from '../../../core/rollout/types';
import { Commands } from '../../contributions';
import { formatPercent } from '../../format';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { checkPausePreconditions } from './preconditions';

/** Pause Rollout: a running multi-step ramp stops after its step; ramps are refused until Resume. */
export async function pause(ctx: CommandContext): Promise<RolloutState | undefined> {
  const config = requireConfig(ctx);
  if (!(await checkPausePreconditions(ctx, config))) return undefined;
  const state = await ctx.withProgress('Phar Rollout: Pausing', (signal, report) => corePause(config, rolloutOptions(ctx, signal, report)));
  await ctx.model.refreshLive();
  void vscode.window
    .showInformationMessage(`Rollout paused at ${formatPercent(state.split)}: ramps are refused until you resume.`, 'Resume Rollout')
    .then((picked) => picked && vscode.commands.executeCommand(Commands.resume));
  return state;
}
