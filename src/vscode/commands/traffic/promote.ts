import * as vscode from 'vscode';
import { OperationError } from '../../../core/errors';
import { failureSummary, promote as corePromote } from '../../../core/rollout/promote';
import type { PromoteResult } from '../../../core/rollout/promote';
import type { CommandContext } from '../commandContext';
import { confirm, requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { safeText } from '../../../core/safeText';
import { checkPromotePreconditions } from './preconditions';

/** Promote Canary: the canary's release goes to the stable group, then the split returns to 0 %. */
export async function promote(ctx: CommandContext, args: { confirm?: boolean } = {}): Promise<PromoteResult | undefined> {
  const config = requireConfig(ctx);
  // Interactive: refusals come before the modal. Scripted (confirm: false): the core decides.
  if (args.confirm !== false && !(await checkPromotePreconditions(ctx, config))) return undefined;
  const canary = [...new Set(ctx.model.live.backends.filter((b) => b.group === 'canary').map((b) => b.deployed ?? '?'))].join(', ');
  // Each stable backend's version before and after, so the confirmation says what changes.
  const stable = config.backends
    .filter((b) => b.group === 'stable')
    .map((b) => {
      const now = ctx.model.live.backends.find((l) => l.name === b.name)?.deployed;
      return `${safeText(b.name, 60)}: ${now ? safeText(now, 40) : 'nothing'} → ${safeText(canary || '?', 40)}`;
    });
  if (
    args.confirm !== false &&
    !(await confirm(
      ctx,
      `Promote canary ${canary || ''} to stable?`,
      `${stable.join('\n')}\n\nThe stable backends are deployed with the canary's release, then canary traffic returns to 0 %.`,
      'Promote',
      true,
    ))
  )
    return undefined;
  const result = await ctx.withProgress('Phar Rollout: Promoting canary', (signal, report) =>
    corePromote(config, rolloutOptions(ctx, signal, report)),
  );
  await ctx.model.refreshLive();
  if (!result.ok) throw new OperationError(`Promoting ${result.artifact.version} failed on ${failureSummary(result.results)}`);
  void vscode.window.showInformationMessage(
    `Promoted ${result.artifact.version} to stable (${result.results.length} backends); canary traffic 0 %.`,
  );
  return result;
}
