import * as vscode from 'vscode';
import type { RolloutConfig } from '../../../core/config/rolloutConfig';
import type { BackendStatus } from '../../../core/backends/status';
import { backendStatus } from '../../../core/backends/status';
import { currentSplit } from '../../../core/rollout/shared';
import type { RolloutStatusView } from '../../../core/rollout/status';
import type { LockHolder } from '../../../core/exec/hostLock';
import { rolloutStatus } from '../../../core/rollout/status';
import { safeText } from '../../../core/safeText';
import { Commands } from '../../contributions';
import type { CommandId } from '../../contributions';
import { formatAge, formatPercent } from '../../format';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';
import { rolloutOptions } from './rolloutOptions';

/**
 * Preconditions of the traffic commands, checked before any picker, diff or modal (a refusal after
 * the user confirmed wastes the review). Each refusal names the fix as a button that runs it.
 */

/** Where a ramp starts from, read fresh from the LBs, the state file and the canary backends. */
export interface RampStart {
  split: number;
  /** The plan the next step comes from (the running rollout's, else rollout.json's). */
  steps: readonly number[];
}

export interface Facts {
  status: RolloutStatusView;
  canary: BackendStatus[];
}

/** A refusal that names the fix as a button which runs it (never a CLI verb). */
export function refuse(message: string, fix?: { title: string; command: CommandId; args?: unknown[] }): undefined {
  void vscode.window.showWarningMessage(message, ...(fix ? [fix.title] : [])).then((picked) => {
    if (fix && picked === fix.title) void vscode.commands.executeCommand(fix.command, ...(fix.args ?? []));
  });
  return undefined;
}

/** The rollout state, the LBs, the lock and the canary backends' releases, all at once. */
export async function readFacts(ctx: CommandContext, config: RolloutConfig): Promise<Facts> {
  const canaryBackends = config.backends.filter((b) => b.group === 'canary');
  return ctx.withProgress('Phar Rollout: Checking the rollout', async (signal, report) => {
    const options = rolloutOptions(ctx, signal, report);
    const [status, canary] = await Promise.all([
      rolloutStatus(config, options),
      backendStatus(config, { signal, log: ctx.log, transports: options.transports, backends: canaryBackends }),
    ]);
    return { status, canary };
  });
}

const canaryGroup = (): NodeOf<'group'> => ({ item: new vscode.TreeItem('Canary'), target: { kind: 'group', group: 'canary' } });

export function noCanaryBackend(config: RolloutConfig): boolean {
  if (config.backends.some((b) => b.group === 'canary')) return false;
  refuse('rollout.json has no backend in the "canary" group.', { title: 'Open rollout.json', command: Commands.openConfig });
  return true;
}

/** A live lock (a stale one is taken over by the operation itself). */
export function locked(facts: Facts): boolean {
  const lock = facts.status.lock;
  if (!lock || lock.stale) return false;
  const since = lock.since ? ` since ${formatAge(lock.since)}` : '';
  refuse(
    `The rollout is locked by ${safeText(lock.owner)}${since}${lock.operation ? ` (${safeText(lock.operation)})` : ''}. Wait for it to finish, or force the unlock if nothing is running.`,
    { title: 'Force Unlock…', command: Commands.unlock },
  );
  return true;
}

export function nothingOnCanary(facts: Facts, what: string): boolean {
  if (facts.canary.some((b) => b.deployed)) return false;
  refuse(`Nothing is deployed to the canary group yet: deploy a build to it before ${what}.`, {
    title: 'Deploy…',
    command: Commands.deploy,
    args: [canaryGroup()],
  });
  return true;
}

/**
 * Ramp: locked, paused, no canary backend, nothing deployed to the canary. Returns where the ramp
 * starts, or undefined after telling the user what to do.
 */
export async function checkRampPreconditions(ctx: CommandContext, config: RolloutConfig): Promise<RampStart | undefined> {
  if (noCanaryBackend(config)) return undefined;
  const facts = await readFacts(ctx, config);
  if (locked(facts)) return undefined;
  const state = facts.status.state;
  if (state?.status === 'paused')
    return refuse('The rollout is paused: resume it before ramping.', { title: 'Resume Rollout', command: Commands.resume });
  if (nothingOnCanary(facts, 'ramping')) return undefined;
  const steps = state && state.status !== 'done' && state.status !== 'failed' ? state.steps : config.traffic.steps;
  return { split: currentSplit(facts.status.loadBalancers, ctx.log) ?? state?.split ?? 0, steps };
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

/** Promote: locked, no canary backend, nothing or more than one build on the canary. True when it may go on. */
export async function checkPromotePreconditions(ctx: CommandContext, config: RolloutConfig): Promise<boolean> {
  if (noCanaryBackend(config)) return false;
  const facts = await readFacts(ctx, config);
  if (locked(facts) || nothingOnCanary(facts, 'promoting')) return false;
  const builds = [...new Set(facts.canary.map((b) => b.deployedArtifact ?? 'none'))];
  if (builds.length > 1) {
    refuse(
      `The canary backends carry different builds (${facts.canary.map((b) => `${b.name} ${safeText(b.deployed ?? 'none', 40)}`).join(', ')}): deploy one build to the whole canary group first.`,
      { title: 'Deploy…', command: Commands.deploy, args: [canaryGroup()] },
    );
    return false;
  }
  return true;
}

/** Force Unlock: refused before the confirmation when there is no lock to remove. Returns the holder. */
export async function checkUnlockPreconditions(ctx: CommandContext, config: RolloutConfig): Promise<LockHolder | undefined> {
  const facts = await readFacts(ctx, config);
  if (facts.status.lock) return facts.status.lock;
  if (facts.status.lockError)
    refuse(`The lock could not be read: ${safeText(facts.status.lockError)}`, { title: 'Show Log', command: Commands.showLog });
  else void vscode.window.showInformationMessage('The rollout is not locked: there is nothing to unlock.');
  return undefined;
}

/** Pause: locked, no rollout running (already paused: nothing to do). True when it may go on. */
export async function checkPausePreconditions(ctx: CommandContext, config: RolloutConfig): Promise<boolean> {
  const facts = await readFacts(ctx, config);
  if (locked(facts)) return false;
  const status = facts.status.state?.status;
  if (status === 'running') return true;
  if (status === 'paused') refuse('The rollout is already paused.', { title: 'Resume Rollout', command: Commands.resume });
  else refuse('No rollout is running: there is nothing to pause.', { title: 'Ramp Canary…', command: Commands.ramp });
  return false;
}

/** Resume: locked, not paused. True when it may go on. */
export async function checkResumePreconditions(ctx: CommandContext, config: RolloutConfig): Promise<boolean> {
  const facts = await readFacts(ctx, config);
  if (locked(facts)) return false;
  const status = facts.status.state?.status;
  if (status === 'paused') return true;
  if (status === 'running')
    refuse('The rollout is running, not paused: there is nothing to resume.', { title: 'Pause Rollout', command: Commands.pause });
  else refuse('No rollout is paused: there is nothing to resume.', { title: 'Ramp Canary…', command: Commands.ramp });
  return false;
}

/** Roll Back: locked. Returns the live canary split (traffic rollback is offered only above 0 %), or undefined after refusing. */
export async function checkRollbackPreconditions(ctx: CommandContext, config: RolloutConfig): Promise<{ split: number } | undefined> {
  const facts = await readFacts(ctx, config);
  if (locked(facts)) return undefined;
  return { split: currentSplit(facts.status.loadBalancers, ctx.log) ?? facts.status.state?.split ?? 0 };
}
