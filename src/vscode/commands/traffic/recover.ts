import type * as vscode from 'vscode';
import { recover as coreRecover } from '../../../core/rollout/recover';
import type { RecoverResult } from '../../../core/rollout/recover';
import { safeText } from '../../../core/safeText';
import { Commands } from '../../contributions';
import { disagreement } from '../../liveState';
import { notify } from '../../notify';
import type { ProjectModel } from '../../projectModel';
import type { CommandContext } from '../commandContext';
import { configOrApplied } from '../pick';
import { rolloutOptions } from './rolloutOptions';

/**
 * Recover: the one-click repair when a load balancer's file and nginx disagree. Runs the core's
 * recover under the rollout lock: an interrupted change whose process is gone puts every LB back on
 * its last confirmed split (recorded), and a file nginx does not serve is put back to what nginx
 * serves (traffic unchanged). With rollout.json broken it runs from the last applied configuration.
 */
export async function recover(ctx: CommandContext): Promise<RecoverResult | undefined> {
  const { config } = await configOrApplied(ctx);
  const result = await ctx.withProgress('Phar Rollout: Recovering the load balancers', (signal, report) =>
    coreRecover(config, rolloutOptions(ctx, signal, report)),
  );
  await ctx.model.refreshLive();
  const lines = [...result.recovered.map((r) => r.description), ...result.repaired.filter((r) => r.changed).map((r) => r.message)];
  for (const l of lines) ctx.log.info(l);
  const still = ctx.model.live.loadBalancers.filter((l) => disagreement(l));
  if (still.length > 0)
    notify('warning', `Recovered what could be, but ${still.map((l) => `${l.name}: ${disagreement(l)}`).join('; ')} (see the log).`, [
      { title: 'Show Log', command: Commands.showLog },
    ]);
  else
    notify(
      'info',
      lines.length
        ? `Recovered: ${safeText(lines.join('; '), 600)}.`
        : 'Nothing to recover: no interrupted change, and every load balancer file is what nginx serves.',
    );
  return result;
}

/**
 * Warns once per disagreement the views find ("edge: file 50 %, nginx serves 0 %") with Recover as
 * the button: a file nginx does not serve goes live, ungated, at the next reload by anyone.
 */
export function driftWarnings(model: ProjectModel): vscode.Disposable {
  const shown = new Set<string>();
  return model.onDidChange(() => {
    const now = new Set<string>();
    for (const l of model.live.loadBalancers) {
      const text = disagreement(l);
      if (!text || l.split === undefined) continue;
      const key = `${l.name}\0${text}`;
      now.add(key);
      if (shown.has(key) || model.live.refreshing) continue;
      shown.add(key);
      notify('warning', `Load balancer ${safeText(l.name)}: ${text}.`, [{ title: 'Recover', command: Commands.recover }]);
    }
    // A disagreement that went away may come back later: warn again then.
    if (!model.live.refreshing) for (const k of shown) if (!now.has(k)) shown.delete(k);
  });
}
