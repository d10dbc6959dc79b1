import * as vscode from 'vscode';
import type { RolloutConfig } from '../../../core/config/rolloutConfig';
import type { PlanStep } from '../../../core/analysis/plan';
import { DEFAULT_ANALYSIS } from '../../../core/analysis/analysisConfig';
import { CancelledError } from '../../../core/errors';
import { pause as corePause } from '../../../core/rollout/pause';
import { resume as coreResume } from '../../../core/rollout/resume';
import { rollback as coreRollback } from '../../../core/rollout/rollback';
import type { RollbackResult } from '../../../core/rollout/rollback';
import { runRollout, runnerHealth } from '../../../core/rollout/run';
import type { RunResult, StepReport, WindowReport } from '../../../core/rollout/run';
import { rolloutStatus } from '../../../core/rollout/status';
import { safeText } from '../../../core/safeText';
import { Commands } from '../../contributions';
import { formatPercent } from '../../format';
import { notify } from '../../notify';
import type { NextStep } from '../../notify';
import { durationText, planPosition, planText, progressText } from '../../timelineSeries';
import type { RunProgress } from '../../timelineSeries';
import type { CommandContext } from '../commandContext';
import { confirm, requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { locked, noCanaryBackend, nothingOnCanary, readFacts, refuse } from './preconditions';
import * as os from 'node:os';

/** Arguments for scripted use (tests, keybindings). */
export interface StartRolloutArgs {
  /** false: no confirmation before the plan starts. */
  confirm?: boolean;
  /** A paused rollout is resumed first (the "Continue Rollout" button). */
  resume?: boolean;
}

/** What a Cancel on the progress turned into. */
type StopChoice = 'Pause Here' | 'Roll Back';

/** What Start Rollout did, for scripts and tests. */
export interface StartRolloutResult {
  run?: RunResult;
  /** The person stopped the run from the progress notification. */
  stopped?: { choice: StopChoice; rollback?: RollbackResult };
}

/** One run per extension host: a second Start Rollout is refused, not queued. */
let running = false;

const NEXT = {
  timeline: { title: 'Open Timeline', command: Commands.openTimeline },
  continue: { title: 'Continue Rollout', command: Commands.startRollout, args: [undefined, { resume: true }] },
  rollback: { title: 'Roll Back…', command: Commands.rollback },
  promote: { title: 'Promote Canary', command: Commands.promote },
  deploy: { title: 'Deploy…', command: Commands.deploy },
  log: { title: 'Show Log', command: Commands.showLog },
} satisfies Record<string, NextStep>;

/**
 * Start Rollout: runs the plan (traffic.steps with their observe times) with the core's runner, the
 * same as `phar-rollout run`, in a progress notification that follows every window. Cancel asks
 * whether to pause here or roll back, and does exactly that; the result says what happened.
 */
export async function startRollout(ctx: CommandContext, args: StartRolloutArgs = {}): Promise<StartRolloutResult | undefined> {
  const config = ctx.model.config;
  if (!config) {
    if (ctx.model.hasRolloutJson) requireConfig(ctx); // refuses with "Fix rollout.json"
    return refuse('This project has no rollout.json: create one to describe the backends, load balancers and plan.', {
      title: 'Create rollout.json',
      command: Commands.createRolloutJson,
    });
  }
  if (config.loadBalancers.length === 0)
    return refuse('rollout.json has no load balancer: a rollout moves traffic through nginx.', {
      title: 'Open rollout.json',
      command: Commands.openConfig,
    });
  if (running)
    return refuse('A rollout is already running in this window: its progress notification follows it.', {
      title: 'Pause Rollout',
      command: Commands.pause,
    });
  if (noCanaryBackend(config)) return undefined;
  running = true; // from here: a second start while this one checks or asks is refused too
  let ran = false;
  try {
    const start = await checkStartPreconditions(ctx, config, args);
    if (!start) return undefined;
    const plan = planOf(config);
    if (args.confirm !== false) {
      const ok = await confirm(
        ctx,
        `Start the rollout from ${formatPercent(start.split)}?`,
        `Plan: ${planText(plan)}. Each step is set on every load balancer, confirmed live and observed on real traffic (a window every ${durationText((config.analysis ?? DEFAULT_ANALYSIS).intervalMs)}); a failed window rolls back${config.gates.autoRollback ? ' to 0 % at once' : ''}. Cancel on the progress pauses or rolls back.`,
        'Start Rollout',
      );
      if (!ok) return undefined;
    }
    ran = true;
    if (start.paused)
      await ctx.withProgress('Phar Rollout: Resuming', (signal, report) => coreResume(config, rolloutOptions(ctx, signal, report)));
    return await drive(ctx, config, plan);
  } finally {
    running = false;
    if (ran) await ctx.model.refreshLive();
  }
}

/**
 * Before any dialog: locked, nothing on the canary, paused (unless resuming), or a live runner
 * elsewhere. Returns where the run starts, or undefined after refusing with the fix as a button.
 */
async function checkStartPreconditions(
  ctx: CommandContext,
  config: RolloutConfig,
  args: StartRolloutArgs,
): Promise<{ split: number; paused: boolean } | undefined> {
  const facts = await readFacts(ctx, config);
  if (locked(facts) || nothingOnCanary(facts, 'starting a rollout')) return undefined;
  const state = facts.status.state;
  const runner = state?.status === 'running' ? state.runner : undefined;
  if (runner && runnerHealth(runner).alive && !(runner.host === os.hostname() && runner.pid === process.pid)) {
    return refuse(
      `The rollout is already being run by ${safeText(runner.user)} on ${safeText(runner.host)} (last seen ${durationText(runnerHealth(runner).seenAgoMs)} ago). Pause it from here, or wait for it.`,
      { title: 'Pause Rollout', command: Commands.pause },
    );
  }
  const paused = state?.status === 'paused';
  if (paused && !args.resume)
    return refuse(
      `The rollout is paused${state.message ? ` (${safeText(state.message, 200)})` : ''}: continue it to run the rest of the plan.`,
      NEXT.continue,
    );
  const split = facts.status.loadBalancers.find((l) => l.split !== undefined)?.split ?? state?.split ?? 0;
  return { split, paused };
}

function planOf(config: RolloutConfig): PlanStep[] {
  const observeMs = (config.analysis ?? DEFAULT_ANALYSIS).observeMs;
  return config.traffic.plan ?? config.traffic.steps.map((weight) => ({ kind: 'weight', weight, observeMs }));
}

/** The run, its progress notification (reopened when a Cancel was taken back), and the result. */
async function drive(ctx: CommandContext, config: RolloutConfig, plan: PlanStep[]): Promise<StartRolloutResult> {
  // Not the notification's token: its Cancel asks first, and only the answer aborts the runner.
  const abort = new AbortController();
  let report: (message: string) => void = () => undefined;
  let coreMessage: string | undefined;
  let position = { index: 0, step: 0, steps: plan.filter((p) => p.kind === 'weight').length };
  let live: { step: StepReport; atMs: number } | undefined;
  let last: WindowReport | undefined;

  const progress = (): string => {
    if (!live) return coreMessage ?? 'Reading the rollout…';
    const p: RunProgress = {
      step: position.step,
      steps: position.steps,
      weight: live.step.weight,
      leftMs: live.atMs + live.step.observeMs - Date.now(),
      last: last && { canary: last.canary, stable: last.stable, verdict: last.verdict },
    };
    return progressText(p);
  };
  const render = () => report(progress());

  let settled = false;
  const run = runRollout(config, {
    ...rolloutOptions(ctx, abort.signal, (message) => {
      coreMessage = message;
      if (!live) render();
    }),
    onStep: (step, phase) => {
      if (phase === 'live') {
        position = planPosition(plan, step.weight, position.index);
        live = { step, atMs: Date.now() };
        last = undefined;
      } else {
        live = undefined;
        coreMessage = `step ${position.step}/${position.steps} (${formatPercent(step.weight)}) ${step.decision === 'pass' ? 'passed' : (step.decision ?? 'ended')}`;
      }
      render();
    },
    onWindow: (_step, window) => {
      last = window;
      render();
      // The rollout row and the timeline read the history: refresh them with every window.
      void ctx.model.refreshLive();
    },
  }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  void run.then(() => (settled = true));

  let choice: StopChoice | undefined;
  for (;;) {
    const cancelled = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Phar Rollout', cancellable: true },
      async (p, token) => {
        report = (message) => p.report({ message });
        render();
        const tick = setInterval(render, 1000); // time left in the step, between windows
        try {
          return await Promise.race([
            run.then(() => false),
            new Promise<boolean>((resolve) => token.onCancellationRequested(() => resolve(true))),
          ]);
        } finally {
          clearInterval(tick);
          report = () => undefined;
        }
      },
    );
    if (!cancelled) break;
    const where = live ? `step ${position.step}/${position.steps} (${formatPercent(live.step.weight)})` : 'the current step';
    const picked = await vscode.window.showWarningMessage(
      `Stop the rollout at ${where}?`,
      {
        modal: true,
        detail:
          'Pause Here keeps the split where it is and pauses the rollout (continue it later). Roll Back sets canary traffic to 0 % on every load balancer now. Close this to keep running.',
      },
      'Pause Here',
      'Roll Back',
    );
    if (settled) break; // the run ended while the question was open: its result stands
    if (picked === 'Pause Here' || picked === 'Roll Back') {
      choice = picked;
      abort.abort();
      break;
    }
  }

  const outcome = await run;
  if ('error' in outcome && !(outcome.error instanceof CancelledError && choice)) throw outcome.error;
  const result = 'result' in outcome ? outcome.result : undefined;
  if (choice && !(result && result.result !== 'paused'))
    return stopped(ctx, config, choice, position, live?.step.weight ?? result?.state?.split);
  if (result) reportResult(result);
  return { run: result };
}

/** The person's choice after a Cancel, done, and said. */
async function stopped(
  ctx: CommandContext,
  config: RolloutConfig,
  choice: StopChoice,
  position: { step: number; steps: number },
  weight: number | undefined,
): Promise<StartRolloutResult> {
  const at = weight !== undefined ? ` at ${formatPercent(weight)}` : '';
  if (choice === 'Pause Here') {
    // The runner pauses when stopped while observing; stopped during a ramp, it may not have.
    await ctx.withProgress('Phar Rollout: Pausing', async (signal, report) => {
      const options = rolloutOptions(ctx, signal, report);
      if ((await rolloutStatus(config, options)).state?.status === 'running') await corePause(config, options);
    });
    notify('info', `Rollout paused${at} (step ${position.step}/${position.steps}): you stopped it. The split stays.`, [
      NEXT.continue,
      NEXT.rollback,
      NEXT.timeline,
    ]);
    return { stopped: { choice } };
  }
  const rollback = await ctx.withProgress('Phar Rollout: Rolling back (traffic)', (signal, report) =>
    coreRollback(config, { speed: 'traffic' }, rolloutOptions(ctx, signal, report)),
  );
  if (rollback.ok)
    notify(
      'info',
      `Rolled back: canary traffic 0 % (was ${formatPercent(rollback.splitBefore ?? weight ?? 0)}); you stopped the rollout at step ${position.step}/${position.steps}.`,
      [NEXT.timeline, NEXT.deploy],
    );
  else
    notify(
      'warning',
      `Roll back failed on ${(rollback.results ?? [])
        .filter((r) => !r.ok)
        .map((r) => `${r.backend}: ${safeText(r.error ?? 'failed', 120)}`)
        .join('; ')}.`,
      [NEXT.log, NEXT.rollback],
    );
  return { stopped: { choice, rollback } };
}

/** The runner's result in words, with the next step as buttons. */
function reportResult(r: RunResult): void {
  const windows = r.steps.reduce((n, s) => n + s.windows.length, 0);
  const reason = r.reason ? safeText(r.reason, 400) : '';
  const split = r.state?.split;
  switch (r.result) {
    case 'completed':
      notify(
        'info',
        `Rollout completed${split !== undefined ? ` at ${formatPercent(split)}` : ''}: ${r.steps.length} step${r.steps.length === 1 ? '' : 's'}, ${windows} window${windows === 1 ? '' : 's'} passed${r.promoted ? '; the canary was promoted to stable' : ''}.`,
        r.promoted ? [NEXT.timeline] : [NEXT.promote, NEXT.timeline],
      );
      return;
    case 'rolled-back':
      notify('warning', `Rollout rolled back to 0 %: ${reason}.`, [NEXT.timeline, NEXT.deploy]);
      return;
    case 'paused':
      notify('warning', `Rollout paused${split !== undefined ? ` at ${formatPercent(split)}` : ''}: ${reason}.`, [
        NEXT.continue,
        NEXT.rollback,
        NEXT.timeline,
      ]);
      return;
    case 'failed':
      notify('warning', `Rollout stopped: ${reason}.`, [NEXT.log, NEXT.timeline]);
      return;
  }
}
