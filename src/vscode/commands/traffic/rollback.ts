import * as vscode from 'vscode';
import { rollback as coreRollback } from '../../../core/rollout/rollback';
import type { RollbackRequest, RollbackResult, RollbackSpeed } from '../../../core/rollout/rollback';
import { listTags } from '../../../core/git/git';
import { formatPercent } from '../../format';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';
import { configOrApplied, confirm, requireConfig } from '../pick';
import type { Group, RolloutConfig } from '../../../core/config/rolloutConfig';
import { rolloutOptions } from './rolloutOptions';
import { notify } from '../../notify';
import { safeText } from '../../../core/safeText';
import { versionOfArtifactId } from '../../../core/phar/artifactStore';
import { checkRollbackPreconditions, refuse } from './preconditions';
import { Commands } from '../../contributions';

export interface RollbackArgs {
  speed?: RollbackSpeed;
  ref?: string;
  confirm?: boolean;
}

/** Roll Back…: traffic (0 % now), release (previous release, no rebuild) or rebuild (a git ref in a worktree). */
export async function rollback(ctx: CommandContext, node?: NodeOf<'group'>, args: RollbackArgs = {}): Promise<RollbackResult | undefined> {
  const group = node?.target.group;
  // rollout.json with errors: a traffic rollback (the emergency exit) runs from the last applied
  // configuration; a release or rebuild rollback needs rollout.json and is refused.
  const { config, source } =
    args.speed === 'traffic' || (!args.speed && !group) ? await configOrApplied(ctx) : { config: requireConfig(ctx) };
  const emergency = source !== undefined;
  // Interactive: refusals before the picker and the modal; the live split decides whether Traffic is offered.
  const interactive = args.confirm !== false;
  const start = interactive ? await checkRollbackPreconditions(ctx, config) : undefined;
  if (interactive && !start) return undefined;
  const split = start?.split ?? ctx.model.live.rollout?.split ?? 0;
  let speed = args.speed;
  if (speed === 'traffic' && interactive && split === 0)
    return refuse(
      'Canary traffic is already 0 %: there is no traffic to roll back.',
      emergency ? undefined : { title: 'Roll Back a Release…', command: Commands.rollback, args: [undefined, { speed: 'release' }] },
    );
  if (emergency && !speed && split === 0)
    return refuse('Canary traffic is already 0 %, and rollout.json has errors: fix it to roll back a release.');
  if (!speed) {
    const items: Array<vscode.QuickPickItem & { speed: RollbackSpeed }> = [
      ...(config.loadBalancers.length > 0 && !group && split > 0
        ? [
            {
              speed: 'traffic' as const,
              label: '$(debug-disconnect) Traffic',
              description: 'fastest: one reload',
              detail: `Canary share ${formatPercent(split)} → 0 % on every load balancer now.`,
            },
          ]
        : []),
      ...(emergency ? [] : releaseItems(group)),
    ];
    speed = (await vscode.window.showQuickPick(items, { title: 'Roll Back', placeHolder: 'How far back?' }))?.speed;
  }
  if (!speed) return undefined;
  if (emergency && speed !== 'traffic') requireConfig(ctx);
  return rollbackTo(ctx, config, { speed, group, ref: args.ref, confirm: args.confirm, split, source });
}

function releaseItems(group: string | undefined): Array<vscode.QuickPickItem & { speed: RollbackSpeed }> {
  return [
    {
      speed: 'release',
      label: '$(history) Release',
      description: 'seconds: no rebuild',
      detail: `Every ${group ?? 'canary'} backend switches current back to its previous release.`,
    },
    {
      speed: 'rebuild',
      label: '$(git-commit) Rebuild from git',
      description: 'minutes',
      detail: 'Build a tag, branch or commit in a separate worktree (your working tree is untouched), then deploy it.',
    },
  ];
}

async function rollbackTo(
  ctx: CommandContext,
  config: RolloutConfig,
  o: { speed: RollbackSpeed; group?: Group; ref?: string; confirm?: boolean; split: number; source?: string },
): Promise<RollbackResult | undefined> {
  const { speed, group, split } = o;
  let ref = o.ref;
  if (speed === 'rebuild' && !ref) {
    const root = ctx.model.root!;
    const tags = await listTags(root).catch(() => [] as string[]);
    const pick = await vscode.window.showQuickPick(
      [...tags.map((t) => ({ label: `$(tag) ${t}`, ref: t })), { label: '$(edit) Other ref (branch or commit)…', ref: '' }],
      { title: 'Roll Back: rebuild which ref?' },
    );
    if (!pick) return undefined;
    ref =
      pick.ref ||
      (await vscode.window.showInputBox({
        title: 'Roll Back: git ref',
        prompt: 'A tag, branch or commit',
        validateInput: (v) => (/^[^\s-][^\s]*$/.test(v) ? undefined : 'A git ref without spaces, not starting with "-"'),
      }));
    if (!ref) return undefined;
  }
  const request: RollbackRequest = { speed, ref, group };
  if (o.confirm !== false) {
    const what =
      speed === 'traffic'
        ? `set canary traffic to 0 % (now ${formatPercent(split)})`
        : speed === 'release'
          ? `switch the ${group ?? 'canary'} backends back to their previous release`
          : `build ${ref} and deploy it to the ${group ?? 'canary'} backends`;
    if (!(await confirm(ctx, `Roll back: ${what}?`, 'Recorded in the rollout history.', 'Roll Back', speed !== 'traffic')))
      return undefined;
  }
  const settings = ctx.settings();
  const result = await ctx.withProgress(`Phar Rollout: Rolling back (${speed})`, (signal, report) =>
    coreRollback(config, request, {
      ...rolloutOptions(ctx, signal, report),
      compilerScript: ctx.compilerScript,
      boxPath: settings.boxPath,
    }),
  );
  await ctx.model.reload();
  await ctx.model.refreshLive();
  if (!result.ok) {
    // The core reports every backend's outcome instead of throwing on the first failure.
    const failed = (result.results ?? []).filter((r) => !r.ok).map((r) => `${r.backend}: ${safeText(r.error ?? 'failed', 120)}`);
    notify(
      'warning',
      `Roll back (${speed}) failed on ${failed.length} backend${failed.length === 1 ? '' : 's'}: ${failed.join('; ')}.`,
      [],
    );
    return result;
  }
  // Say what each backend went back to (release, rebuild), not only that it happened.
  const perBackend = Object.entries(result.releasesAfter ?? {})
    .map(([backend, id]) => `${backend} → ${id ? safeText(versionOfArtifactId(id), 40) : 'none'}`)
    .join(', ');
  notify(
    'info',
    speed === 'traffic'
      ? `Rolled back: canary traffic 0 % (was ${formatPercent(result.splitBefore ?? 0)}).${o.source ? ` rollout.json has errors: used the last applied configuration, from ${o.source}.` : ''}`
      : `Rolled back (${speed})${result.artifact ? ` to ${safeText(result.artifact.version, 40)}` : ''}${perBackend ? `: ${perBackend}` : ''}.`,
    [{ title: 'Deploy…', command: Commands.deploy }],
  );
  return result;
}
