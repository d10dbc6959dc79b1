import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, InputError, OperationError, describeError, noLoadBalancerError } from '../errors';
import { readSplits, renderFor } from '../traffic/apply';
import type { LbSplit } from '../traffic/apply';
import type { Recovered } from './recovery';
import { recoveredField } from './recovery';
import { formatSplit, toBasisPoints } from '../traffic/render';
import { backendOptions, withContext, withLock } from './context';
import { backendStatus } from '../backends/status';
import { safeText } from '../safeText';
import type { OpContext, RolloutOptions } from './context';
import { runGate } from './gates';
import { appendHistory } from './history';
import { canaryRelease, currentSplit, servedSplits, freshState, nextStep, setSplitRecorded, stepIndexOf } from './shared';
import { applyEvent, inProgress, transition } from './state';
import { currentState } from './sharedStore';
import type { RolloutStore } from './store';
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
  /** Interrupted changes recovered (and recorded) before the ramp. */
  recovered?: Recovered[];
}

export interface RampOptions extends RolloutOptions {
  /** Run the gate after each step (default true). */
  gate?: boolean;
  /**
   * Apply only if every LB still carries this split (null: none carries a managed split), e.g. the
   * `before` of the preview the user confirmed; otherwise SplitChangedError and nothing changes.
   */
  expectBefore?: number | null;
  /** Skip the pre-flight (canary backends serve the canary release, a stable backend is healthy). Logged. */
  skipPreflight?: boolean;
}

/** The backends are not ready for canary traffic: nothing was changed. */
export class PreflightError extends OperationError {
  constructor(readonly problems: readonly string[]) {
    super(`Not ramping: ${problems.join('; ')}; nothing was changed`, { step: 'preflight' });
  }
}

/**
 * Before any LB changes: every canary backend is healthy and serves the release deployed on it (no
 * drift), and at least one stable backend is healthy, so a ramp never sends users to a backend that
 * is down or still serving the old build, and a rollback always has somewhere to go.
 */
export async function preflight(config: RolloutConfig, ctx: OpContext): Promise<void> {
  const { transports, signal, log } = backendOptions(ctx);
  const status = await backendStatus(config, { transports, signal, log });
  const problems: string[] = [];
  const canary = status.filter((b) => b.group === 'canary');
  for (const b of canary) {
    if (!b.healthy) problems.push(`canary backend ${b.name} is not healthy (${safeText(b.error ?? 'no answer', 120)})`);
    else if (b.drift)
      problems.push(
        `canary backend ${b.name} serves ${safeText(b.served, 60)}, not its deployed ${safeText(b.deployed ?? '?', 60)} (restart it or deploy again)`,
      );
    else if (!b.deployedArtifact) problems.push(`canary backend ${b.name} has no release: deploy to the canary group first`);
  }
  const stable = status.filter((b) => b.group === 'stable');
  if (!stable.some((b) => b.healthy)) problems.push(`no stable backend is healthy (${stable.map((b) => b.name).join(', ')})`);
  if (problems.length > 0) throw new PreflightError(problems);
}

/** The live split is not the one a confirmed change was computed from: someone ramped meanwhile. */
export class SplitChangedError extends OperationError {
  constructor(
    readonly expected: number | null,
    readonly live: ReadonlyArray<{ name: string; split?: number }>,
  ) {
    super(
      `The split changed since this ramp was confirmed: expected ${expected === null ? 'no managed split' : `${formatSplit(expected)} %`}, ` +
        `the load balancers carry ${live.map((l) => `${l.name} ${l.split === undefined ? '?' : `${formatSplit(l.split)} %`}`).join(', ')}; ` +
        'nothing was changed: look at the new split and ramp again',
      { step: 'ramp', lb: live[0]?.name },
    );
  }
}

function checkExpected(live: readonly LbSplit[], expected: number | null | undefined): void {
  if (expected === undefined) return;
  const same = (s: number | undefined) =>
    expected === null ? s === undefined : s !== undefined && toBasisPoints(s) === toBasisPoints(expected);
  if (!live.every((l) => same(l.split))) throw new SplitChangedError(expected, live);
}

/** Saves a step that went live; a pause that landed meanwhile (from any checkout) is kept, and so is the runner's entry. */
function saveStep(store: RolloutStore, mine: RolloutState): Promise<RolloutState> {
  return applyEvent(store, 'step', (disk, to) => ({
    ...mine,
    ...(to === 'paused' && disk ? { message: disk.message } : {}),
    runner: disk?.runner,
  })) as Promise<RolloutState>;
}

/**
 * Moves the canary split: to `percent`, to the next plan step, or (`all`) through every remaining
 * step. Holds the rollout lock. After each step with canary traffic the gate runs; a failing gate
 * stops the rollout (state "failed") and, with gates.autoRollback, sets the split to 0 % at once.
 * Between steps of `all`, a pause (from anywhere) stops it. Refused while the rollout is paused, when
 * state.json is corrupt, and (with `expectBefore`) when the live split is not the expected one.
 */
export async function ramp(config: RolloutConfig, target: RampTarget, options: RampOptions = {}): Promise<RampResult> {
  if ('percent' in target) toBasisPoints(target.percent);
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  if ('next' in target && config.traffic.steps.length === 0)
    throw new InputError('traffic.steps is empty', { hint: 'List the canary percentages to walk through, e.g. [1, 5, 25, 50, 100].' });
  const label =
    'percent' in target ? `ramp to ${formatSplit(target.percent)} %` : target.all ? 'ramp through the plan' : 'ramp to the next step';
  return withLock(config, label, options, async (ctx, _lock, recovered) => {
    const onDisk = await currentState(ctx.store, ctx.signal);
    const { fresh } = transition(onDisk, 'start');
    const live = await servedSplits(config, ctx);
    checkExpected(live, options.expectBefore);
    const before = currentSplit(live, ctx.log);
    const goingUp = 'percent' in target ? target.percent > 0 : true;
    if (goingUp && options.skipPreflight) ctx.log.warn('pre-flight skipped: backends were not checked before this ramp');
    else if (goingUp) {
      ctx.progress('pre-flight: checking every backend');
      await preflight(config, ctx);
    }
    let state = fresh || !onDisk ? freshState(config, before, ctx.user) : onDisk;
    let current = before;
    const steps: RampStep[] = [];
    for (;;) {
      const split = 'percent' in target ? target.percent : nextStep(state.steps, current);
      if (split === undefined) {
        if (steps.length === 0) throw atLastStep(current);
        break;
      }
      ctx.progress(`setting the split to ${formatSplit(split)} %`);
      await setSplitRecorded(config, ctx, split, 'ramp');
      const previous = current;
      current = split;
      state = {
        ...state,
        split,
        stepIndex: stepIndexOf(state.steps, split),
        message: `canary at ${formatSplit(split)} %`,
        gate: undefined,
        windows: undefined,
      };
      if (fresh && steps.length === 0) {
        const r = await canaryRelease(config, ctx);
        state = { ...state, canaryArtifact: r.id, canaryVersion: r.version };
      }
      state = await saveStep(ctx.store, state);

      let gate: GateResult | undefined;
      try {
        gate = split > 0 && options.gate !== false ? await gateStep(config, ctx, split) : undefined;
      } catch (err) {
        if (!(err instanceof CancelledError)) throw err;
        throw await gateCancelled(config, ctx, split, previous ?? 0, state);
      }
      if (gate && !gate.pass) {
        const after = await gateFailed(config, ctx, split, gate, state);
        steps.push({ split, gate });
        return {
          ok: false,
          before,
          after: after.split,
          steps,
          reason: gate.reason,
          rolledBack: after.rolledBack,
          paused: false,
          state: after.state,
          ...recoveredField(recovered),
        };
      }
      if (gate) state = await saveStep(ctx.store, { ...state, gate });
      steps.push({ split, gate });
      if (!('next' in target && target.all)) break;
      if (state.status === 'paused') break;
    }
    const paused = 'next' in target && target.all === true && state.status === 'paused';
    return { ok: true, before, after: current ?? 0, steps, rolledBack: false, paused, state, ...recoveredField(recovered) };
  });
}

function atLastStep(current: number | undefined): InputError {
  return new InputError(`The canary is already at the last step (${formatSplit(current ?? 0)} %)`, { hint: 'Promote it, or roll back.' });
}

/** Runs the gate at `split` and records its measurement in the history. */
async function gateStep(config: RolloutConfig, ctx: OpContext, split: number): Promise<GateResult> {
  ctx.progress(`gate at ${formatSplit(split)} %: ${config.gates.samples} requests to the canary`);
  const gate = await runGate(config, { signal: ctx.signal });
  await appendHistory(ctx.store, {
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
  return gate;
}

/**
 * The gate at `split` was cancelled (Ctrl-C): the split goes back to `previous` (applied and
 * confirmed live, recorded, not cancellable itself) and the step is saved as that. Returns the error
 * to throw: CancelledError saying where every LB is, or, when going back failed, an OperationError
 * saying the LBs are still on `split`.
 */
async function gateCancelled(config: RolloutConfig, ctx: OpContext, split: number, previous: number, state: RolloutState): Promise<Error> {
  const at = `${formatSplit(split)} %`;
  const back = `${formatSplit(previous)} %`;
  ctx.log.warn(`gate at ${at} cancelled: setting the split back to ${back}`);
  const uncancellable: OpContext = { ...ctx, signal: undefined };
  try {
    await setSplitRecorded(config, uncancellable, previous, 'ramp', `gate at ${at} cancelled, back to the previous step`);
  } catch (err) {
    return new OperationError(
      `Cancelled during the gate at ${at}, but going back to ${back} failed, so every load balancer is still on ${at}: ${describeError(err)}`,
      { step: 'gate', lb: config.loadBalancers[0]?.name },
    );
  }
  await saveStep(ctx.store, {
    ...state,
    split: previous,
    stepIndex: stepIndexOf(state.steps, previous),
    gate: undefined,
    message: `gate at ${at} cancelled by ${ctx.user}; back on ${back}`,
  }).catch((err) => ctx.log.warn(`saving the rollout state failed: ${describeError(err)}`));
  return new CancelledError(`Cancelled during the gate at ${at}: every load balancer is back on ${back} (confirmed live)`);
}

/** A failed gate: back to 0 % with gates.autoRollback, and the rollout marked "failed". */
async function gateFailed(
  config: RolloutConfig,
  ctx: OpContext,
  split: number,
  gate: GateResult,
  state: RolloutState,
): Promise<{ split: number; rolledBack: boolean; state: RolloutState }> {
  let current = split;
  let rolledBack = false;
  if (config.gates.autoRollback) {
    ctx.log.warn(`gate failed at ${formatSplit(split)} %: ${gate.reason}; rolling back to 0 %`);
    await setSplitRecorded(config, ctx, 0, 'rollback', `gate failed: ${gate.reason}`);
    current = 0;
    rolledBack = true;
  } else ctx.log.warn(`gate failed at ${formatSplit(split)} %: ${gate.reason}`);
  const failed: RolloutState = {
    ...state,
    split: current,
    stepIndex: stepIndexOf(state.steps, current),
    gate,
    message: `gate failed at ${formatSplit(split)} %: ${gate.reason}${rolledBack ? '; rolled back to 0 %' : ''}`,
  };
  const saved = await applyEvent(ctx.store, 'gateFailed', (disk) => ({ ...failed, runner: disk?.runner }));
  return { split: current, rolledBack, state: saved ?? { ...failed, status: 'failed' } };
}

export interface RampPreview {
  before?: number;
  after: number;
  files: Array<{ lb: string; host: string; file: string; oldText: string; newText: string; oldSplit?: number }>;
}

/**
 * What a ramp would write, without changing anything: per LB the live file and the new one (the UI
 * shows them as a diff). No lock is taken. To apply exactly this, ramp to `{ percent: after }` with
 * `expectBefore: before ?? null`.
 */
export async function previewRamp(config: RolloutConfig, target: RampTarget, options: RolloutOptions = {}): Promise<RampPreview> {
  if ('percent' in target) toBasisPoints(target.percent);
  return withContext(config, options, async (ctx) => {
    const [live, served] = await Promise.all([
      readSplits(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal }),
      servedSplits(config, ctx),
    ]);
    const before = currentSplit(served);
    const read = await ctx.store.read({ signal: ctx.signal }); // a copy (host unreachable) is good enough for a preview
    if (read.stateError) throw read.stateError;
    const state = read.state;
    const steps = inProgress(state) ? state.steps : config.traffic.steps;
    const after = 'percent' in target ? target.percent : nextStep(steps, before);
    if (after === undefined) throw atLastStep(before);
    const time = new Date();
    return {
      before,
      after,
      files: config.loadBalancers.map((lb, i) => ({
        lb: lb.name,
        host: live[i].host,
        file: lb.file,
        oldText: live[i].text ?? '',
        oldSplit: served[i].split,
        newText: renderFor(config, lb, after, time),
      })),
    };
  });
}
