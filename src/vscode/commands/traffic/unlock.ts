import * as vscode from 'vscode';
import { unlock as coreUnlock } from '../../../core/rollout/unlock';
import type { LockHolder } from '../../../core/rollout/lock';
import type { CommandContext } from '../commandContext';
import { confirm, requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { checkUnlockPreconditions } from './preconditions';
import { safeText } from '../../../core/safeText';

/** Force Unlock…: removes a teammate's (or a crashed window's) rollout lock; logged in the history. */
export async function unlock(ctx: CommandContext, args: { confirm?: boolean } = {}): Promise<LockHolder | undefined> {
  const config = requireConfig(ctx);
  if (args.confirm !== false) {
    const lock = await checkUnlockPreconditions(ctx, config);
    if (!lock) return undefined;
    const who = `${safeText(lock.owner)}${lock.since ? ` since ${safeText(lock.since)}` : ''}${lock.operation ? ` (${safeText(lock.operation)})` : ''}`;
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
  await ctx.model.refreshLive();
  void vscode.window.showInformationMessage(holder ? `Unlocked (was held by ${safeText(holder.owner)}).` : 'The rollout was not locked.');
  return holder;
}
