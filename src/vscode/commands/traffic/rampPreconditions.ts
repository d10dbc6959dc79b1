import * as vscode from 'vscode';
import type { RolloutConfig } from '../../../core/config/rolloutConfig';
import { backendStatus } from '../../../core/backends/status';
import { currentSplit } from '../../../core/rollout/ramp';
import { rolloutStatus } from '../../../core/rollout/status';
import { safeText } from '../../../core/safeText';
import { Commands } from '../../contributions';
import type { CommandId } from '../../contributions';
import { formatAge, formatPercent } from '../../format';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';
import { rolloutOptions } from './rolloutOptions';

/** Where a ramp starts from, read fresh from the LBs, the state file and the canary backends. */
export interface RampStart {
  split: number;
  /** The plan the next step comes from (the running rollout's, else rollout.json's). */
  steps: readonly number[];
}

/** A refusal that names the fix as a button which runs it (never a CLI verb). */
function refuse(message: string, fix?: { title: string; command: CommandId; args?: unknown[] }): undefined {
  void vscode.window.showWarningMessage(message, ...(fix ? [fix.title] : [])).then((picked) => {
    if (fix && picked === fix.title) void vscode.commands.executeCommand(fix.command, ...(fix.args ?? []));
  });
  return undefined;
}

/**
 * Every reason the core would refuse a ramp (or the ramp would mean nothing), checked before any
 * picker, diff or modal: locked by someone, paused, no canary backend, nothing deployed to the
 * canary. Returns where the ramp starts, or undefined after telling the user what to do.
 */
export async function checkRampPreconditions(ctx: CommandContext, config: RolloutConfig): Promise<RampStart | undefined> {
  const canaryBackends = config.backends.filter((b) => b.group === 'canary');
  if (canaryBackends.length === 0)
    return refuse('rollout.json has no backend in the "canary" group, so there is nothing to ramp to.', {
      title: 'Open rollout.json',
      command: Commands.openConfig,
    });
  const { status, canary } = await ctx.withProgress('Phar Rollout: Checking the rollout', async (signal, report) => {
    const options = rolloutOptions(ctx, signal, report);
    const [status, canary] = await Promise.all([
      rolloutStatus(config, options),
      backendStatus(config, { signal, log: ctx.log, transports: options.transports, backends: canaryBackends }),
    ]);
    return { status, canary };
  });
  const lock = status.lock;
  if (lock && !lock.stale) {
    const since = lock.since ? ` since ${formatAge(lock.since)}` : '';
    return refuse(
      `The rollout is locked by ${safeText(lock.owner)}${since}${lock.operation ? ` (${safeText(lock.operation)})` : ''}. Wait for it to finish, or force the unlock if nothing is running.`,
      { title: 'Force Unlock…', command: Commands.unlock },
    );
  }
  if (status.state?.status === 'paused')
    return refuse('The rollout is paused: resume it before ramping.', { title: 'Resume Rollout', command: Commands.resume });
  if (canary.every((b) => !b.deployed)) {
    const canaryGroup: NodeOf<'group'> = { item: new vscode.TreeItem('Canary'), target: { kind: 'group', group: 'canary' } };
    return refuse('Nothing is deployed to the canary group yet: deploy a build to it before ramping.', {
      title: 'Deploy…',
      command: Commands.deploy,
      args: [canaryGroup],
    });
  }
  const state = status.state;
  const steps = state && state.status !== 'done' && state.status !== 'failed' ? state.steps : config.traffic.steps;
  return { split: currentSplit(status.loadBalancers, ctx.log) ?? state?.split ?? 0, steps };
}

/** The picked target would change nothing: say so (with the next useful step) instead of asking. */
export function refuseNoChange(split: number, atLastStep: boolean): undefined {
  return atLastStep
    ? refuse(`The canary is already at the last step of the plan (${formatPercent(split)}): promote it, or roll back.`, {
        title: 'Promote Canary',
        command: Commands.promote,
      })
    : refuse(`The canary is already at ${formatPercent(split)}.`);
}
