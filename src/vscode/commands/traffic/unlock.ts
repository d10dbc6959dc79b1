import * as vscode from 'vscode';
import { unlock as coreUnlock } from '../../../core/rollout/unlock';
import { describeHolder } from '../../../core/exec/hostLock';
import type { LockHolder } from '../../../core/exec/hostLock';
import type { CommandContext } from '../commandContext';
import { confirm, requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { checkUnlockPreconditions } from './preconditions';

/** Force Unlock…: removes a teammate's (or a crashed window's) rollout lock; logged in the history. */
export async function unlock(ctx: CommandContext, args: { confirm?: boolean } = {}): Promise<LockHolder | undefined> {
  const config = requireConfig(ctx);
  if (args.confirm !== false) {
    const lock = await checkUnlockPreconditions(ctx, config);
    if (!lock) return undefined;
    const who = describeHolder(lock);
    if (
      !(await confirm(
        ctx,
        `Force unlock the rollout held by ${who}?`,
        'Only do this when nothing is running. The unlock is recorded in the history with the former holder.',
        'Force Unlock',
        true,
      ))
    )
      return undefined;
  }
  const holder = await ctx.withProgress('Phar Rollout: Unlocking', (signal, report) =>
    coreUnlock(config, { force: true }, rolloutOptions(ctx, signal, report)),
  );
  // The result first: the refresh reads every backend and LB and may take a while.
  void vscode.window.showInformationMessage(holder ? `Unlocked (was held by ${describeHolder(holder)}).` : 'The rollout was not locked.');
  await ctx.model.refreshLive();
  return holder;
}
