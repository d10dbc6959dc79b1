import * as vscode from 'vscode';
import { SplitChangedError, previewRamp, ramp as coreRamp } from '../../../core/rollout/ramp';
import { nextStep } from '../../../core/rollout/shared';
import type { RampResult, RampTarget } from '../../../core/rollout/ramp';
import type { GateResult } from '../../../core/rollout/types';
import { Commands } from '../../contributions';
import { notify } from '../../notify';
import { noLoadBalancerError } from '../../../core/errors';
import { reviewSplitChange } from '../../previewDocuments';
import { formatPercent, parsePercent } from '../../format';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';
import { checkRampPreconditions, refuse, refuseNoChange } from './preconditions';

/** Arguments for scripted use (tests, keybindings): skip the pickers and the confirmation. */
export interface RampArgs {
  percent?: number;
  next?: boolean;
  confirm?: boolean;
}

/**
 * Ramp Canary…: the next step of the plan or a chosen percentage. The review is the nginx change of
 * every LB as a diff with Apply and Cancel in its title; then the split is applied to all LBs
 * together and the gate runs.
 */
export async function ramp(ctx: CommandContext, args: RampArgs = {}): Promise<RampResult | undefined> {
  const config = requireConfig(ctx);
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  // Interactive: every refusal comes before any picker, diff or modal. Scripted (confirm: false): the core decides.
  const interactive = args.confirm !== false;
  const start = interactive ? await checkRampPreconditions(ctx, config) : undefined;
  if (interactive && !start) return undefined;
  const target =
    args.percent !== undefined
      ? { percent: args.percent }
      : args.next
        ? ({ next: true } as const)
        : await pickTarget(start?.steps ?? config.traffic.steps, start?.split ?? ctx.model.live.rollout?.split);
  if (!target) return undefined;
  if (start) {
    const after = 'percent' in target ? target.percent : nextStep(start.steps, start.split);
    if (after === undefined || after === start.split) return refuseNoChange(start.split, after === undefined);
  }

  // What is applied: after a confirmation exactly the confirmed change, refused (SplitChangedError)
  // if someone moved the split meanwhile.
  let applied: { target: RampTarget; expectBefore?: number | null } = { target };
  if (args.confirm !== false) {
    const preview = await ctx.withProgress('Phar Rollout: Preparing the nginx change', (signal, report) =>
      previewRamp(config, target, rolloutOptions(ctx, signal, report)),
    );
    // The diff is the review: Apply or Cancel in its editor title; no modal hides it.
    const outcome = await reviewSplitChange(ctx.model, preview, 'Ramp');
    if (outcome === 'overtaken') return overtaken();
    if (outcome !== 'apply') return undefined;
    applied = { target: { percent: preview.after }, expectBefore: preview.before ?? null };
  }

  const result = await ctx
    .withProgress('Phar Rollout: Ramping canary', (signal, report) =>
      coreRamp(config, applied.target, { ...rolloutOptions(ctx, signal, report), expectBefore: applied.expectBefore }),
    )
    .catch((err: unknown) => {
      if (err instanceof SplitChangedError) ctx.log.warn(err.message);
      else throw err;
    });
  if (!result) {
    await ctx.model.refreshLive();
    return overtaken();
  }
  await ctx.model.refreshLive();
  if (!result.ok) {
    const why = result.reason ?? 'a gate failed';
    void vscode.window
      .showWarningMessage(`Canary gate failed: ${why}.${result.rolledBack ? ' Traffic was rolled back to 0 %.' : ''}`, 'Show Log')
      .then((a) => a && ctx.channel.show(true));
  } else {
    const gate = [...result.steps].reverse().find((s) => s.gate)?.gate;
    const next = nextStep(start?.steps ?? config.traffic.steps, result.after);
    notify('info', `Canary at ${formatPercent(result.after)}${gate ? ` — gate passed (${gateNumbers(gate)})` : ''}.`, [
      next !== undefined
        ? { title: `Next Step (${formatPercent(next)})`, command: Commands.ramp, args: [undefined, { next: true }] }
        : { title: 'Promote Canary', command: Commands.promote },
      { title: 'Roll Back…', command: Commands.rollback },
    ]);
  }
  return result;
}

async function pickTarget(steps: readonly number[], current: number | undefined): Promise<RampTarget | undefined> {
  const next = nextStep(steps, current);
  type Item = vscode.QuickPickItem & { target?: RampTarget; custom?: boolean };
  const items: Item[] = [
    ...(next !== undefined
      ? [
          {
            label: `$(arrow-up) Next step: ${formatPercent(next)}`,
            description: `now ${formatPercent(current ?? 0)}`,
            target: { next: true } as RampTarget,
          },
        ]
      : []),
    { label: 'Plan', kind: vscode.QuickPickItemKind.Separator },
    ...steps.map((s) => ({ label: formatPercent(s), description: s === current ? 'current' : undefined, target: { percent: s } })),
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(edit) Other percentage…', custom: true },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Ramp Canary',
    placeHolder: `Canary share now ${formatPercent(current ?? 0)}`,
  });
  if (!picked) return undefined;
  if (!picked.custom) return picked.target;
  const value = await vscode.window.showInputBox({
    title: 'Ramp Canary',
    prompt: 'Canary share in percent (0–100, up to two decimals; "25" or "25%")',
    validateInput: (v) => (parsePercent(v) !== undefined ? undefined : 'A number from 0 to 100 with at most two decimals, e.g. 25 or 25%'),
  });
  return value === undefined ? undefined : { percent: parsePercent(value)! };
}

/** "canary 0.4 % errors, p95 42 ms; stable 0.0 %, 40 ms". */
function gateNumbers(gate: GateResult): string {
  const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
  const stable = gate.stable ? `; stable ${pct(gate.stable.errorRate)}, ${Math.round(gate.stable.p95Ms)} ms` : '';
  return `canary ${pct(gate.canary.errorRate)} errors, p95 ${Math.round(gate.canary.p95Ms)} ms${stable}`;
}

/** The live split moved while the change was under review: nothing was applied; offer a fresh review. */
export function overtaken(): undefined {
  return refuse(
    'The canary split changed while you reviewed the change (someone else moved it): nothing was changed. Review the new split.',
    {
      title: 'Ramp Canary…',
      command: Commands.ramp,
    },
  );
}
