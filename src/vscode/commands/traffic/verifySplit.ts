import * as vscode from 'vscode';
import { verifySplit as coreVerify } from '../../../core/rollout/verifySplit';
import type { VerifyResult } from '../../../core/rollout/verifySplit';
import { formatPercent } from '../../format';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { rolloutOptions } from './rolloutOptions';

/** Verify Split: N requests through each LB; the share each version got against the configured split. */
export async function verifySplit(ctx: CommandContext, args: { requests?: number } = {}): Promise<VerifyResult | undefined> {
  const config = requireConfig(ctx);
  let requests = args.requests;
  if (requests === undefined) {
    const v = await vscode.window.showInputBox({
      title: 'Verify Split',
      prompt: 'Requests to send through each load balancer',
      value: '400',
      validateInput: (s) => (/^\d+$/.test(s) && Number(s) >= 10 && Number(s) <= 100000 ? undefined : 'A whole number from 10 to 100000'),
    });
    if (!v) return undefined;
    requests = Number(v);
  }
  const result = await ctx.withProgress(`Phar Rollout: Sending ${requests} requests`, (signal, report) =>
    coreVerify(config, { requests: requests! }, rolloutOptions(ctx, signal, report)),
  );
  const lines = result.loadBalancers.map((lb) => {
    const versions = lb.versions.map((v) => `${v.version} ${formatPercent(v.share)}${v.side ? ` (${v.side})` : ''}`).join(', ');
    const vs =
      lb.canaryShare !== undefined
        ? `canary ${formatPercent(lb.canaryShare)} observed vs ${formatPercent(lb.configured ?? 0)} configured`
        : (lb.note ?? '');
    return `${lb.lb}: ${vs}; ${versions}${lb.errors ? `; ${lb.errors} errors` : ''}`;
  });
  for (const l of lines) ctx.log.info(`verify-split ${l}`);
  void vscode.window
    .showInformationMessage(lines.join(' · ') || 'No load balancer has a "url" to send requests through.', 'Show Log')
    .then((a) => a && ctx.channel.show(true));
  return result;
}
