import * as vscode from 'vscode';
import { backendDetails, loadBalancerDetails } from '../../detailsText';
import { InputError } from '../../../core/errors';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { showReadOnly } from '../../previewDocuments';

/** Show Details (Enter on a backend or load balancer row): its configuration and live state as a read-only text. */
export async function showDetails(
  ctx: CommandContext,
  node: NodeOf<'backend' | 'loadBalancer'> | undefined,
): Promise<vscode.TextDocument | undefined> {
  const config = ctx.model.liveConfig ?? requireConfig(ctx);
  let target = node?.target;
  if (!target) {
    const picked = await vscode.window.showQuickPick(
      [
        ...config.loadBalancers.map((l) => ({
          label: l.name,
          description: 'load balancer',
          target: { kind: 'loadBalancer' as const, name: l.name },
        })),
        ...config.backends.map((b) => ({
          label: b.name,
          description: `${b.group} backend`,
          target: { kind: 'backend' as const, name: b.name, group: b.group },
        })),
      ],
      { title: 'Show Details', placeHolder: 'Which backend or load balancer?' },
    );
    if (!picked) return undefined;
    target = picked.target;
  }
  const { live } = ctx.model;
  let content: string;
  if (target.kind === 'backend') {
    const name = target.name;
    const b = config.backends.find((x) => x.name === name);
    if (!b) throw new InputError(`No backend "${name}" in rollout.json`, { hint: 'Refresh the panel.' });
    content = backendDetails(
      b,
      live.backends.find((v) => v.name === name),
    );
  } else {
    const name = target.name;
    const lb = config.loadBalancers.find((x) => x.name === name);
    if (!lb) throw new InputError(`No load balancer "${name}" in rollout.json`, { hint: 'Refresh the panel.' });
    content = loadBalancerDetails(
      lb,
      live.loadBalancers.find((v) => v.name === name),
    );
  }
  return showReadOnly(`${target.name.replace(/[^\w.-]/g, '_')}.txt`, content);
}
