import * as vscode from 'vscode';
import { releaseRollbackTargets, rollback as coreRollback } from '../../../core/rollout/rollback';
import type { RollbackRequest, RollbackResult, RollbackSpeed } from '../../../core/rollout/rollback';
import { listRefs } from '../../../core/git/git';
import { previewRamp } from '../../../core/rollout/ramp';
import { reviewSplitChange } from '../../previewDocuments';
import { refItem, releaseTargetsText } from '../../changeText';
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
  const { speed, group } = o;
  let ref = o.ref;
  let target = group;
  if (speed === 'rebuild' && !target && o.confirm !== false) {
    target = await pickGroup(config);
    if (!target) return undefined;
  }
  if (speed === 'rebuild' && !ref) {
    ref = await pickRef(ctx);
    if (!ref) return undefined;
  }
  const request: RollbackRequest = { speed, ref, group: target };
  if (o.confirm !== false) {
    if (speed === 'traffic') {
      // The diff is the review (when production changes are confirmed): Apply or Cancel in its title.
      if (ctx.settings().confirmProductionChanges) {
        const preview = await ctx.withProgress('Phar Rollout: Preparing the nginx change', (signal, report) =>
          previewRamp(config, { percent: 0 }, rolloutOptions(ctx, signal, report)),
        );
        const outcome = await reviewSplitChange(ctx.model, preview, 'Roll back (traffic)');
        if (outcome === 'overtaken')
          return refuse('The canary split changed while you reviewed the rollback: nothing was changed. Review it again.', {
            title: 'Roll Back…',
            command: Commands.rollback,
            args: [undefined, { speed: 'traffic' }],
          });
        if (outcome !== 'apply') return undefined;
      }
    } else if (speed === 'release') {
      // Name the release each backend goes back to; one without a previous release is refused before asking.
      const targets = await ctx.withProgress('Phar Rollout: Reading the previous releases', (signal, report) =>
        releaseRollbackTargets(config, target ?? 'canary', rolloutOptions(ctx, signal, report)),
      );
      const missing = targets.filter((t) => !t.previous);
      if (missing.length > 0)
        return refuse(
          `A release rollback needs a previous release on every ${target ?? 'canary'} backend: ${releaseTargetsText(missing).replace(/\n/g, '; ')}. Rebuild an older version from git instead.`,
          { title: 'Rebuild from Git…', command: Commands.rollback, args: [undefined, { speed: 'rebuild' }] },
        );
      const versions = [...new Set(targets.map((t) => t.previous!.version))];
      if (
        !(await confirm(
          ctx,
          `Roll back the ${target ?? 'canary'} backends to ${versions.map((v) => safeText(v, 40)).join(', ')}?`,
          `${releaseTargetsText(targets)}\n\nEach backend switches current back to its previous release (no rebuild), restarts and is probed. Recorded in the rollout history.`,
          'Roll Back',
          true,
        ))
      )
        return undefined;
    } else {
      const now = ctx.model.live.backends
        .filter((b) => b.group === (target ?? 'canary'))
        .map((b) => `${b.name}: ${b.deployed ? safeText(b.deployed, 40) : 'nothing'} → the build of ${ref}`)
        .join('\n');
      if (
        !(await confirm(
          ctx,
          `Roll back: build ${ref} and deploy it to the ${target ?? 'canary'} backends?`,
          `${now}\n\n${ref} is checked out in a separate git worktree (your working tree is untouched), built, then deployed. Recorded in the rollout history.`,
          'Roll Back',
          true,
        ))
      )
        return undefined;
    }
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

/** Which group a rebuild goes to: canary first (the default), stable when it has backends too. */
async function pickGroup(config: RolloutConfig): Promise<Group | undefined> {
  const groups = (['canary', 'stable'] as const).filter((g) => config.backends.some((b) => b.group === g));
  if (groups.length <= 1) return groups[0] ?? 'canary';
  const picked = await vscode.window.showQuickPick(
    groups.map((g) => ({
      label: `$(${g === 'canary' ? 'beaker' : 'server-environment'}) ${g}`,
      description: g === 'canary' ? 'default' : 'production traffic',
      detail: config.backends
        .filter((b) => b.group === g)
        .map((b) => b.name)
        .join(', '),
      group: g,
    })),
    { title: 'Roll Back: rebuild for which group?', placeHolder: 'The backends that get the rebuilt version' },
  );
  return picked?.group;
}

/** Tags, then branches, newest first, with commit, date and subject; or any ref typed in. */
async function pickRef(ctx: CommandContext): Promise<string | undefined> {
  const refs = await listRefs(ctx.model.root!).catch((err: unknown) => {
    ctx.log.warn(`listing git refs failed: ${(err as Error).message}`);
    return [];
  });
  type Item = vscode.QuickPickItem & { ref?: string };
  const section = (kind: 'tag' | 'branch', label: string): Item[] => {
    const list = refs.filter((r) => r.kind === kind);
    return list.length ? [{ label, kind: vscode.QuickPickItemKind.Separator }, ...list.map((r) => ({ ...refItem(r), ref: r.name }))] : [];
  };
  const pick = await vscode.window.showQuickPick<Item>(
    [
      ...section('tag', 'Tags'),
      ...section('branch', 'Branches'),
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      { label: '$(edit) Other ref (commit)…', ref: '' },
    ],
    {
      title: 'Roll Back: rebuild which ref?',
      placeHolder: 'A tag or branch (newest first)',
      matchOnDescription: true,
      matchOnDetail: true,
    },
  );
  if (!pick) return undefined;
  return (
    pick.ref ||
    (await vscode.window.showInputBox({
      title: 'Roll Back: git ref',
      prompt: 'A tag, branch or commit',
      validateInput: (v) => (/^[^\s-][^\s]*$/.test(v) ? undefined : 'A git ref without spaces, not starting with "-"'),
    }))
  );
}
