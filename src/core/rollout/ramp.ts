import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, InputError, describeError, noLoadBalancerError } from '../errors';
import { readCurrentRelease } from '../backends/releases';
import { applySplit, readSplits, renderFor } from '../traffic/apply';
import type { AppliedLb, LbSplit } from '../traffic/apply';
import { formatSplit, toBasisPoints } from '../traffic/render';
import { withContext, withLock } from './context';
import type { OpContext, RolloutOptions } from './context';
import { runGate } from './gates';
import { appendHistory } from './history';
import { readState, writeState } from './state';
import type { GateResult, RolloutState } from './types';

export type RampTarget = { percent: number } | { next: true; all?: boolean };

export interface RampStep {
  split: number;
  gate?: GateResult;
}

export interface RampResult {
  /** False when a gate failed. */
  ok: boolean;
  /** Split before (first LB), undefined when no LB carried a managed file. */
  before?: number;
  /** Split the LBs carry now. */
  after: number;
  /** The steps taken, each with its gate. */
  steps: RampStep[];
  /** Why the rollout stopped (gate failure). */
  reason?: string;
  /** A failed gate set the split back to 0 %. */
  rolledBack: boolean;
  /** Stopped because someone paused the rollout between steps. */
  paused: boolean;
  state: RolloutState;
}

export interface RampOptions extends RolloutOptions {
  /** Run the gate after each step (default true). */
  gate?: boolean;
}

/** The split the project's LBs carry: the first LB's (the others are warned about if they differ). */
export function currentSplit(live: readonly LbSplit[], log?: { warn(m: string): void }): number | undefined {
  const known = live.filter((l) => l.split !== undefined);
  if (known.length === 0) return undefined;
  const first = live[0].split ?? known[0].split;
  const differ = known.filter((l) => l.split !== first);
  if (differ.length)
    log?.warn(
      `load balancers disagree: ${live.map((l) => `${l.name} ${l.split === undefined ? '?' : formatSplit(l.split) + ' %'}`).join(', ')}`,
    );
  return first;
}

/** The first plan step above `current` (the first step when the split is unknown). */
export function nextStep(steps: readonly number[], current: number | undefined): number | undefined {
  return current === undefined ? steps[0] : steps.find((s) => toBasisPoints(s) > toBasisPoints(current));
}

function splitsOf(applied: readonly AppliedLb[]): Record<string, number | null> {
  return Object.fromEntries(applied.map((a) => [a.name, a.before?.split ?? null]));
}

/**
 * Sets the split on every LB and records it in the history before returning (also a failure, which
 * leaves every LB on its previous file).
 */
export async function setSplitRecorded(
  config: RolloutConfig,
  ctx: OpContext,
  split: number,
  action: string,
  note?: string,
): Promise<AppliedLb[]> {
  const target = config.loadBalancers.map((lb) => lb.name).join(', ');
  let applied: AppliedLb[];
  try {
    applied = await applySplit(config, split, (lb) => ctx.pool.get(lb), {
      log: ctx.log,
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    });
  } catch (err) {
    if (!(err instanceof CancelledError)) {
      await appendHistory(config.projectDir, { user: ctx.user, action, target, after: { split }, result: `failed: ${describeError(err)}` });
    }
    throw err;
  }
  const befores = splitsOf(applied);
  const first = applied[0]?.before?.split ?? null;
  const allSame = Object.values(befores).every((v) => v === first);
  await appendHistory(config.projectDir, {
    user: ctx.user,
    action,
    target,
    before: allSame ? { split: first } : { split: first, loadBalancers: befores },
    after: { split },
    result: note ? `ok (${note})` : 'ok',
  });
  return applied;
}

function freshState(config: RolloutConfig, split: number | undefined): RolloutState {
  const now = new Date().toISOString();
  return {
    version: 1,
    status: 'running',
    steps: [...config.traffic.steps],
    stepIndex: indexOf(config.traffic.steps, split),
    split: split ?? 0,
    startedAt: now,
    updatedAt: now,
  };
}

function indexOf(steps: readonly number[], split: number | undefined): number {
  if (split === undefined) return -1;
  const bp = toBasisPoints(split);
  return steps.findIndex((s) => toBasisPoints(s) === bp);
}

/**
 * Writes the state, unless someone paused the rollout meanwhile (pause does not take the lock, so
 * that it works while a ramp runs): then the pause is kept.
 */
export async function saveState(projectDir: string, state: RolloutState): Promise<RolloutState> {
  const onDisk = await readState(projectDir);
  const merged: RolloutState =
    onDisk?.status === 'paused' && state.status === 'running' ? { ...state, status: 'paused', message: onDisk.message } : state;
  await writeState(projectDir, { ...merged, updatedAt: new Date().toISOString() });
  return merged;
}

async function canaryRelease(config: RolloutConfig, ctx: OpContext): Promise<{ id?: string; version?: string }> {
  const canary = config.backends.filter((b) => b.group === 'canary');
  const releases = await Promise.all(
    canary.map((b) => readCurrentRelease(ctx.pool.get(b), b.dir, { signal: ctx.signal }).catch(() => undefined)),
  );
  const first = releases.find((r) => r);
  return { id: first?.id, version: first?.version };
}

/**
 * Moves the canary split: to `percent`, to the next plan step, or (`all`) through every remaining
 * step. Holds the rollout lock. After each step with canary traffic the gate runs; a failing gate
 * stops the rollout (state "failed") and, with gates.autoRollback, sets the split to 0 % at once.
 * Between steps of `all`, a pause (from anywhere) stops it. Refused while the rollout is paused.
 */
export async function ramp(config: RolloutConfig, target: RampTarget, options: RampOptions = {}): Promise<RampResult> {
  if ('percent' in target) toBasisPoints(target.percent);
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  if ('next' in target && config.traffic.steps.length === 0)
    throw new InputError('traffic.steps is empty', { hint: 'List the canary percentages to walk through, e.g. [1, 5, 25, 50, 100].' });
  const label =
    'percent' in target ? `ramp to ${formatSplit(target.percent)} %` : target.all ? 'ramp through the plan' : 'ramp to the next step';
  return withLock(config, label, options, async (ctx) => {
    let state = await readState(config.projectDir);
    if (state?.status === 'paused') throw new InputError('The rollout is paused', { hint: 'Resume it first ("resume"), or roll back.' });
    const live = await readSplits(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal });
    const before = currentSplit(live, ctx.log);
    const fresh = !state || state.status === 'done' || state.status === 'failed';
    if (!state || fresh) state = freshState(config, before);
    let current = before;
    const steps: RampStep[] = [];
    let paused = false;
    for (;;) {
      const split = 'percent' in target ? target.percent : nextStep(state.steps, current);
      if (split === undefined) {
        if (steps.length === 0)
          throw new InputError(`The canary is already at the last step (${formatSplit(current ?? 0)} %)`, {
            hint: 'Promote it, or roll back.',
          });
        break;
      }
      ctx.progress(`setting the split to ${formatSplit(split)} %`);
      await setSplitRecorded(config, ctx, split, 'ramp');
      current = split;
      state = {
        ...state,
        status: 'running',
        split,
        stepIndex: indexOf(state.steps, split),
        message: `canary at ${formatSplit(split)} %`,
        gate: undefined,
      };
      if (fresh && steps.length === 0) {
        const r = await canaryRelease(config, ctx);
        state = { ...state, canaryArtifact: r.id, canaryVersion: r.version };
      }
      state = await saveState(config.projectDir, state);

      let gate: GateResult | undefined;
      if (split > 0 && options.gate !== false) {
        ctx.progress(`gate at ${formatSplit(split)} %: ${config.gates.samples} requests to the canary`);
        gate = await runGate(config, { signal: ctx.signal });
        await appendHistory(config.projectDir, {
          user: ctx.user,
          action: 'gate',
          target: 'canary',
          after: {
            split,
            errorRate: gate.canary.errorRate,
            p95Ms: gate.canary.p95Ms,
            stableErrorRate: gate.stable?.errorRate,
            stableP95Ms: gate.stable?.p95Ms,
          },
          result: gate.pass ? 'pass' : `fail: ${gate.reason}`,
        });
        if (!gate.pass) {
          let rolledBack = false;
          if (config.gates.autoRollback) {
            ctx.log.warn(`gate failed at ${formatSplit(split)} %: ${gate.reason}; rolling back to 0 %`);
            await setSplitRecorded(config, ctx, 0, 'rollback', `gate failed: ${gate.reason}`);
            current = 0;
            rolledBack = true;
          } else ctx.log.warn(`gate failed at ${formatSplit(split)} %: ${gate.reason}`);
          state = {
            ...state,
            status: 'failed',
            split: current,
            stepIndex: indexOf(state.steps, current),
            gate,
            message: `gate failed at ${formatSplit(split)} %: ${gate.reason}${rolledBack ? '; rolled back to 0 %' : ''}`,
          };
          await writeState(config.projectDir, { ...state, updatedAt: new Date().toISOString() });
          steps.push({ split, gate });
          return { ok: false, before, after: current, steps, reason: gate.reason, rolledBack, paused: false, state };
        }
        state = await saveState(config.projectDir, { ...state, gate });
      }
      steps.push({ split, gate });
      if (!('next' in target && target.all)) break;
      if (state.status === 'paused') {
        paused = true;
        break;
      }
    }
    return { ok: true, before, after: current ?? 0, steps, rolledBack: false, paused, state };
  });
}

export interface RampPreview {
  before?: number;
  after: number;
  files: Array<{ lb: string; host: string; file: string; oldText: string; newText: string; oldSplit?: number }>;
}

/**
 * What a ramp would write, without changing anything: per LB the live file and the new one (the UI
 * shows them as a diff). No lock is taken.
 */
export async function previewRamp(config: RolloutConfig, target: RampTarget, options: RolloutOptions = {}): Promise<RampPreview> {
  if ('percent' in target) toBasisPoints(target.percent);
  return withContext(config, options, async (ctx) => {
    const live = await readSplits(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal });
    const before = currentSplit(live);
    const state = await readState(config.projectDir);
    const steps = state && state.status !== 'done' && state.status !== 'failed' ? state.steps : config.traffic.steps;
    const after = 'percent' in target ? target.percent : nextStep(steps, before);
    if (after === undefined)
      throw new InputError(`The canary is already at the last step (${formatSplit(before ?? 0)} %)`, { hint: 'Promote it, or roll back.' });
    const time = new Date();
    return {
      before,
      after,
      files: config.loadBalancers.map((lb, i) => ({
        lb: lb.name,
        host: live[i].host,
        file: lb.file,
        oldText: live[i].text ?? '',
        oldSplit: live[i].split,
        newText: renderFor(config, lb, after, time),
      })),
    };
  });
}

/** Pauses the rollout: a running `ramp --next --all` stops after its step; ramps are refused until resume. */
export async function pause(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    const state = await readState(config.projectDir);
    if (!state || state.status !== 'running')
      throw new InputError(state ? `The rollout is ${state.status}, not running` : 'No rollout is running', {
        hint: 'Pause applies to a running rollout.',
      });
    const next: RolloutState = {
      ...state,
      status: 'paused',
      message: `paused by ${ctx.user} at ${formatSplit(state.split)} %`,
      updatedAt: new Date().toISOString(),
    };
    await writeState(config.projectDir, next);
    await appendHistory(config.projectDir, {
      user: ctx.user,
      action: 'pause',
      target: 'rollout',
      before: { status: state.status, split: state.split },
      after: { status: 'paused', split: state.split },
      result: 'ok',
    });
    return next;
  });
}

/** Resumes a paused rollout (the split stays; the next ramp continues the plan). */
export async function resume(config: RolloutConfig, options: RolloutOptions = {}): Promise<RolloutState> {
  return withContext(config, options, async (ctx) => {
    const state = await readState(config.projectDir);
    if (!state || state.status !== 'paused')
      throw new InputError(state ? `The rollout is ${state.status}, not paused` : 'No rollout is running', {
        hint: 'Resume applies to a paused rollout.',
      });
    const next: RolloutState = {
      ...state,
      status: 'running',
      message: `resumed by ${ctx.user} at ${formatSplit(state.split)} %`,
      updatedAt: new Date().toISOString(),
    };
    await writeState(config.projectDir, next);
    await appendHistory(config.projectDir, {
      user: ctx.user,
      action: 'resume',
      target: 'rollout',
      before: { status: 'paused', split: state.split },
      after: { status: 'running', split: state.split },
      result: 'ok',
    });
    return next;
  });
}
