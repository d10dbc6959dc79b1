/**
 * The runner: walks the plan (traffic.plan) on real traffic. Each weight step is set and confirmed
 * live (through ramp, under the rollout lock), then observed from the LBs' access logs one window
 * (analysis.interval) at a time without holding the lock, so a teammate can pause from anywhere:
 * the runner stops at the next window. A failed window rolls back at once (gates.autoRollback); a
 * step passes only on enough canary requests; too few is inconclusive, never a pass.
 */
import type { LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { accessLogOf } from '../config/rolloutConfig';
import { DEFAULT_ANALYSIS, errorStatusTest } from '../analysis/analysisConfig';
import type { AnalysisConfig } from '../analysis/analysisConfig';
import { Attributor } from '../analysis/attribution';
import { decideStep, judgeWindow } from '../analysis/judge';
import type { StepDecision, VerdictResult } from '../analysis/judge';
import { AccessLogReader, LocalLogSource, TransportLogSource, readLoadBalancers } from '../analysis/logReader';
import { SideMetrics, Window } from '../analysis/metrics';
import type { SideSummary } from '../analysis/metrics';
import { notifyAll } from '../analysis/notify';
import type { NotifyEvent } from '../analysis/notify';
import type { PlanStep } from '../analysis/plan';
import { delay } from '../delay';
import { CancelledError, InputError, describeError, noLoadBalancerError, throwIfAborted } from '../errors';
import { safeText } from '../safeText';
import { readLives } from '../traffic/live';
import { formatSplit, toBasisPoints } from '../traffic/render';
import { withContext, withLock } from './context';
import type { OpContext, RolloutOptions } from './context';
import { promote } from './promote';
import { ramp } from './ramp';
import { currentSplit, servedSplits, setSplitRecorded, stepIndexOf } from './shared';
import { currentState } from './sharedStore';
import { applyEvent, updateState } from './state';
import * as os from 'node:os';
import { completeEvent } from './history';
import { processAlive } from '../exec/hostLock';
import type { NewHistoryEvent } from './history';
import type { HistoryEvent, RolloutState, RunnerInfo, WindowBrief } from './types';

/** One analysis window as the runner judged it. */
export interface WindowReport {
  /** Window bounds, ms since epoch. */
  fromMs: number;
  toMs: number;
  canary: SideSummary;
  stable: SideSummary;
  verdict: VerdictResult;
  reasons: string[];
  /** Log lines that were not in the phar_rollout format, and reads that lost bytes (rotation without a copy). */
  unparsable: number;
  lost: number;
}

/** One plan step as the runner walked it. */
export interface StepReport {
  weight: number;
  observeMs: number;
  windows: WindowReport[];
  /** The step's verdict over all its windows, when it ended. */
  verdict?: VerdictResult;
  /**
   * A run that picked the rollout up at this step (a runner that died, a resume): `live` when every LB
   * was found serving the step (re-confirmed), `reapplied` when it had to be set again.
   */
  resumed?: 'live' | 'reapplied';
  decision?: StepDecision;
  reasons?: string[];
}

export type RunOutcome = 'completed' | 'rolled-back' | 'paused' | 'failed';

export interface RunResult {
  result: RunOutcome;
  /** Why it stopped, in words (paused, failed, rolled back). */
  reason?: string;
  steps: StepReport[];
  /** The promotion ran (analysis.autoPromote) and every backend took it. */
  promoted?: boolean;
  state?: RolloutState;
}

export interface RunOptions extends RolloutOptions {
  /** Run the synthetic gate as a pre-check after each step goes live (default: true, as gates.samples). */
  precheck?: boolean;
  /** Called after every judged window. */
  onWindow?: (step: StepReport, window: WindowReport) => void;
  /** For the extension's view: a step began (confirmed live) or ended. */
  onStep?: (step: StepReport, phase: 'live' | 'ended') => void;
}

/**
 * Runs the plan from where the rollout stands (its live split and, for pauses, its state) to the
 * end: completed (and promoted with analysis.autoPromote), rolled back (a failed analysis or gate),
 * paused (a pause step, a person, or an inconclusive step), or failed (someone else changed the
 * rollout meanwhile). Cancelling (`signal`) stops observing and leaves the split where it is, with
 * the rollout paused, so nothing runs unobserved.
 */
export async function runRollout(config: RolloutConfig, options: RunOptions = {}): Promise<RunResult> {
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  const analysis = config.analysis ?? DEFAULT_ANALYSIS;
  const plan: PlanStep[] =
    config.traffic.plan ?? config.traffic.steps.map((w) => ({ kind: 'weight', weight: w, observeMs: analysis.observeMs }));
  return withContext(config, options, async (ctx) => {
    const shared = { ...options, transports: ctx.pool, user: ctx.user };
    const steps: StepReport[] = [];
    // The team's state, on the first LB's host: where the plan stands, whether it is paused, who runs it.
    const onDisk = await currentState(ctx.store, ctx.signal);
    if (onDisk?.status === 'paused') {
      return { result: 'paused', reason: onDisk.message ?? 'the rollout is paused: resume it first', steps, state: onDisk };
    }
    if (onDisk?.runner && runnerHealth(onDisk.runner, Date.now(), { samePid: true }).alive && onDisk.runner.pid !== process.pid) {
      const r = onDisk.runner;
      throw new InputError(
        `The plan is already being run by ${safeText(r.user, 120)} on ${safeText(r.host, 120)} (pid ${r.pid}, last window ${Math.round(runnerHealth(r).seenAgoMs / 1000)} s ago)`,
        { hint: 'Pause it from here ("pause") or wait for it; a runner that died is picked up once it has missed its windows.' },
      );
    }
    const live = await servedSplits(config, ctx);
    const start = currentSplit(live, ctx.log) ?? 0;
    // A pause item already passed (resumed) is recorded in the state as the plan position.
    const inRollout = onDisk?.status === 'running';
    const resumedAt = inRollout && onDisk.planIndex !== undefined ? onDisk.planIndex : -1;
    let index = firstStepFrom(plan, start, resumedAt);
    let current = start;
    const runner: RunnerInfo = {
      user: ctx.user,
      host: os.hostname(),
      pid: process.pid,
      since: new Date().toISOString(),
      seenAt: new Date().toISOString(),
      intervalMs: analysis.intervalMs,
    };
    try {
      for (; index < plan.length; index++) {
        throwIfAborted(ctx.signal);
        const item = plan[index];
        if (item.kind === 'pause') {
          const reason = `plan pause after ${formatSplit(current)} %: resume to continue`;
          const state = await pauseRollout(config, ctx, reason, index + 1);
          await notify(config, ctx, 'pause', reason, { split: current });
          return { result: 'paused', reason, steps, state };
        }
        const step: StepReport = { weight: item.weight, observeMs: item.observeMs, windows: [] };
        steps.push(step);
        let reapply = toBasisPoints(item.weight) !== toBasisPoints(current);
        if (!reapply && inRollout && item.weight > 0 && steps.length === 1) {
          // Picking a rollout up at its step: the step must be live on every LB before it is observed again.
          step.resumed = (await confirmedLive(config, ctx, item.weight)) ? 'live' : 'reapplied';
          reapply = step.resumed === 'reapplied';
          await ctx.store.append(await resumedEvent(ctx, index, item.weight, step.resumed, onDisk.windows?.length ?? 0));
        }
        if (reapply) {
          const r = await ramp(
            config,
            { percent: item.weight },
            { ...shared, gate: options.precheck ?? config.gates.samples > 0, expectBefore: current },
          );
          current = r.after;
          if (!r.ok) {
            const reason = `pre-check gate failed at ${formatSplit(item.weight)} %: ${r.reason ?? 'see the log'}`;
            await notify(config, ctx, r.rolledBack ? 'rollback' : 'failure', reason, { split: current });
            return { result: r.rolledBack ? 'rolled-back' : 'failed', reason, steps, state: r.state };
          }
        }
        await savePlanIndex(ctx, index, runner);
        if (item.weight === 0) continue; // nothing reaches the canary: nothing to judge
        options.onStep?.(step, 'live');
        const outcome = await observeStep(config, ctx, analysis, step, options, runner);
        options.onStep?.(step, 'ended');
        if (outcome.kind === 'stopped') return { ...outcome.result, steps };
        if (outcome.kind === 'fail') {
          const rolled = await failStep(config, ctx, step, outcome.reason);
          return { result: rolled.rolledBack ? 'rolled-back' : 'failed', reason: outcome.reason, steps, state: rolled.state };
        }
        if (outcome.kind === 'pause') {
          const state = await pauseRollout(config, ctx, outcome.reason, index);
          await notify(config, ctx, 'pause', outcome.reason, { split: current });
          return { result: 'paused', reason: outcome.reason, steps, state };
        }
        await notify(config, ctx, 'step', `canary passed ${formatSplit(item.weight)} %: ${step.reasons?.[0] ?? ''}`, { split: current });
      }
      let promoted: boolean | undefined;
      let state = (await ctx.store.read({ signal: ctx.signal })).state;
      if (analysis.autoPromote && toBasisPoints(current) === 10000) {
        const p = await promote(config, shared);
        promoted = p.ok;
        state = p.state ?? state;
        if (!p.ok) {
          const reason = `the plan passed, but the promotion failed on ${p.results
            .filter((r) => !r.ok)
            .map((r) => r.backend)
            .join(', ')}`;
          await notify(config, ctx, 'failure', reason, {});
          return { result: 'failed', reason, steps, promoted, state };
        }
      }
      await notify(
        config,
        ctx,
        'completion',
        `canary completed the plan at ${formatSplit(current)} %${promoted ? ' and was promoted' : ''}`,
        {},
      );
      return { result: 'completed', steps, promoted, state };
    } finally {
      // This runner is done (a killed one leaves its entry behind, no longer seen: "gone").
      await updateState(ctx.store, (s) =>
        s?.runner?.pid === runner.pid && s.runner.host === runner.host ? { ...s, runner: undefined } : undefined,
      ).catch(() => undefined);
    }
  });
}

/** Every LB serves `weight` (its status endpoint answers it, for the file it carries, with no change left unfinished). */
async function confirmedLive(config: RolloutConfig, ctx: OpContext, weight: number): Promise<boolean> {
  const lives = await readLives(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal });
  const ok = lives.every((l) => l.live && toBasisPoints(l.live.split) === toBasisPoints(weight) && !l.drift && !l.interrupted);
  if (!ok) ctx.log.warn(`picking the rollout up at ${formatSplit(weight)} %: not every load balancer serves it; setting it again`);
  return ok;
}

function resumedEvent(ctx: OpContext, index: number, weight: number, how: 'live' | 'reapplied', windows: number): Promise<HistoryEvent> {
  return completeEvent(ctx.store.projectDir, {
    user: ctx.user,
    action: 'run',
    target: 'plan',
    after: { planIndex: index, split: weight, confirmed: how, windowsDropped: windows },
    result: `ok (picked up at ${formatSplit(weight)} %: ${how === 'live' ? 're-confirmed live' : 'set again'}; the step is observed again from its start${windows ? `, ${windows} earlier window(s) not counted` : ''})`,
  });
}

/**
 * Where the plan continues: from the saved plan position (a resumed pause or re-observed step), the
 * first item that is a pause (never skipped) or a weight at or above the live split (re-observed
 * when equal: an interrupted window is never counted as passed).
 */
function firstStepFrom(plan: readonly PlanStep[], split: number, saved: number): number {
  const bp = toBasisPoints(split);
  for (let i = Math.max(0, saved); i < plan.length; i++) {
    const p = plan[i];
    if (p.kind === 'pause' || toBasisPoints(p.weight) >= bp) return i;
  }
  return plan.length;
}

type StepOutcome =
  | { kind: 'pass' }
  | { kind: 'fail'; reason: string }
  | { kind: 'pause'; reason: string }
  | { kind: 'stopped'; result: Omit<RunResult, 'steps'> };

/** Observes one live step window by window until the judge decides. */
async function observeStep(
  config: RolloutConfig,
  ctx: OpContext,
  analysis: AnalysisConfig,
  step: StepReport,
  options: RunOptions,
  runner: RunnerInfo,
): Promise<StepOutcome> {
  const attributor = new Attributor(config.backends.map((b) => ({ name: b.name, group: b.group, upstream: b.upstream })));
  const isError = errorStatusTest(analysis.errorStatuses);
  const readers = new Map(config.loadBalancers.map((lb) => [lb.name, new AccessLogReader(logSource(lb, ctx), { startAt: 'end' })]));
  await readLoadBalancers(readers, ctx.signal); // positions every cursor at the end of its log
  const liveAt = Date.now();
  const total = { canary: new SideMetrics(), stable: new SideMetrics() };
  let failedWindows = 0;
  let from = liveAt;
  for (;;) {
    await delay(analysis.intervalMs, ctx.signal).catch(async (err: unknown) => {
      if (err instanceof CancelledError)
        await pauseRollout(config, ctx, `observation at ${formatSplit(step.weight)} % cancelled by ${ctx.user}`);
      throw err;
    });
    const to = Date.now();
    const read = await readLoadBalancers(readers, ctx.signal);
    const window = new Window(attributor, { isError, fromMs: from });
    window.addAll(read.entries);
    total.canary.merge(window.canary);
    total.stable.merge(window.stable);
    const verdict = judgeWindow(window.canary, window.stable, analysis);
    const counts = Object.values(read.perLb);
    const report: WindowReport = {
      fromMs: from,
      toMs: to,
      canary: verdict.canary,
      stable: verdict.stable,
      verdict: verdict.result,
      reasons: verdict.reasons,
      unparsable: counts.reduce((n, c) => n + c.unparsable, 0),
      lost: counts.reduce((n, c) => n + c.lost, 0),
    };
    step.windows.push(report);
    if (verdict.result === 'fail') failedWindows++;
    const event: NewHistoryEvent = {
      user: ctx.user,
      action: 'analysis',
      target: 'canary',
      after: {
        split: step.weight,
        window: step.windows.length,
        canary: brief(verdict.canary),
        stable: brief(verdict.stable),
        unparsable: report.unparsable || undefined,
        lost: report.lost || undefined,
      },
      result: verdict.result === 'fail' ? `fail: ${verdict.reasons.join('; ')}` : verdict.result,
    };
    // One round trip: the window's event, the runner's heartbeat and the window in the shared state,
    // compare-and-swapped, so a pause or an end from any checkout meanwhile comes back in the answer.
    runner.seenAt = new Date().toISOString();
    const windowBrief: WindowBrief = {
      split: step.weight,
      window: step.windows.length,
      verdict: verdict.result,
      fromMs: from,
      toMs: to,
      canary: brief(verdict.canary),
      stable: brief(verdict.stable),
    };
    const state = await ctx.store.update(
      (s) => (s ? { ...s, runner, windows: [...(s.windows ?? []).filter((w) => w.split === step.weight), windowBrief] } : undefined),
      () => [event],
    );
    if (!state) await ctx.store.append(await completeEvent(ctx.store.projectDir, event)); // no state to beat in: still recorded
    options.onWindow?.(step, report);
    from = to;

    // Someone paused, resumed elsewhere, rolled back or promoted meanwhile: stop at this window.
    if (state?.status === 'paused') return { kind: 'stopped', result: { result: 'paused', reason: state.message ?? 'paused', state } };
    if (state && state.status !== 'running') {
      return {
        kind: 'stopped',
        result: { result: 'failed', reason: `the rollout was ended meanwhile (${state.status}: ${state.message ?? ''})`, state },
      };
    }

    const stepVerdict = judgeWindow(total.canary, total.stable, analysis);
    const decision = decideStep(
      { failedWindows, stepVerdict: stepVerdict.result, elapsedMs: to - liveAt, observeMs: step.observeMs },
      analysis,
    );
    if (decision === 'continue' || decision === 'extend') continue;
    step.verdict = stepVerdict.result;
    step.decision = decision;
    step.reasons = decision === 'fail' && verdict.result === 'fail' ? verdict.reasons : stepVerdict.reasons;
    if (decision === 'pass') return { kind: 'pass' };
    const at = `at ${formatSplit(step.weight)} %`;
    if (decision === 'fail') return { kind: 'fail', reason: `analysis failed ${at}: ${step.reasons.join('; ')}` };
    return {
      kind: 'pause',
      reason: `analysis inconclusive ${at}: ${stepVerdict.reasons.join('; ')}; resume to observe again, or roll back`,
    };
  }
}

function logSource(lb: LoadBalancerConfig, ctx: OpContext) {
  const file = accessLogOf(lb);
  return lb.ssh ? new TransportLogSource(ctx.pool.get(lb), file) : new LocalLogSource(file);
}

function brief(s: SideSummary) {
  return { requests: s.requests, errors: s.errors, errorRate: round(s.errorRate), p95Ms: s.p95Ms };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** A failed step: with gates.autoRollback the split goes to 0 % at once (under the lock); the rollout is "failed". */
async function failStep(
  config: RolloutConfig,
  ctx: OpContext,
  step: StepReport,
  reason: string,
): Promise<{ rolledBack: boolean; state?: RolloutState }> {
  let split = step.weight;
  let rolledBack = false;
  if (config.gates.autoRollback) {
    ctx.log.warn(`${reason}; rolling back to 0 %`);
    await withLock(config, 'rollback: analysis failed', { transports: ctx.pool, user: ctx.user, log: ctx.log }, (lockCtx) =>
      setSplitRecorded(config, lockCtx, 0, 'rollback', reason),
    );
    split = 0;
    rolledBack = true;
  } else ctx.log.warn(reason);
  let state: RolloutState | undefined;
  try {
    state = await applyEvent(ctx.store, 'gateFailed', (current) => {
      // Like a pause: no rollout state (deleted meanwhile) is refused, never made up from nothing.
      if (!current)
        throw new InputError('No rollout is running', { hint: 'The failure is in the history; the next ramp starts a new rollout.' });
      return {
        ...current,
        split,
        stepIndex: stepIndexOf(current.steps, split),
        message: `${reason}${rolledBack ? '; rolled back to 0 %' : ''}`,
      };
    });
  } catch (err) {
    ctx.log.warn(`could not record the failure in the rollout state: ${describeError(err)}`);
  }
  await notify(config, ctx, rolledBack ? 'rollback' : 'failure', reason, { split });
  return { rolledBack, state };
}

/** Pauses the rollout with `reason`; `planIndex` is where a later run continues (past a pause item). */
async function pauseRollout(config: RolloutConfig, ctx: OpContext, reason: string, planIndex?: number): Promise<RolloutState | undefined> {
  try {
    return await applyEvent(
      ctx.store,
      'pause',
      (current) => ({ ...current!, message: reason, ...(planIndex !== undefined ? { planIndex } : {}) }),
      () => [{ user: ctx.user, action: 'pause', target: 'rollout', after: { status: 'paused' }, result: `ok (${reason})` }],
    );
  } catch (err) {
    ctx.log.warn(`could not record the pause: ${describeError(err)}`);
    return (await ctx.store.read().catch(() => undefined))?.state;
  }
}

/** Records the plan position about to be observed (a restarted run observes it again, from its start) and that this runner is alive. */
async function savePlanIndex(ctx: OpContext, planIndex: number, runner: RunnerInfo): Promise<void> {
  runner.seenAt = new Date().toISOString();
  await ctx.store.update((current) => (current ? { ...current, planIndex, runner, windows: [] } : undefined));
}

/** Webhooks never block or fail the rollout: outcomes are logged. */
async function notify(
  config: RolloutConfig,
  ctx: OpContext,
  event: NotifyEvent,
  text: string,
  extra: Record<string, unknown>,
): Promise<void> {
  const urls = config.notify?.webhooks ?? [];
  if (urls.length === 0) return;
  const outcomes = await notifyAll(
    urls,
    { event, text: `${config.app ?? 'phar-rollout'}: ${text}`, ...extra },
    { timeoutMs: config.notify?.timeoutMs },
  );
  for (const o of outcomes) if (!o.ok) ctx.log.warn(`webhook ${o.url} failed: ${o.error ?? 'no answer'}`);
}

/**
 * The runner as the team sees it: alive (a window judged within two intervals and a half, plus 30 s
 * of slack) or gone (a runner that died: the next `run` picks the rollout up).
 */
export function runnerHealth(
  runner: RunnerInfo,
  now = Date.now(),
  options: { samePid?: boolean } = {},
): { alive: boolean; seenAgoMs: number } {
  const seenAgoMs = Math.max(0, now - Date.parse(runner.seenAt));
  // samePid: a runner on this machine whose process is gone has died, whatever its last window.
  if (options.samePid && runner.host === os.hostname() && runner.pid !== process.pid && !processAlive(runner.pid))
    return { alive: false, seenAgoMs };
  return { alive: seenAgoMs <= runner.intervalMs * 2.5 + 30_000, seenAgoMs };
}
