import * as vscode from 'vscode';
import { history } from '../../../core/rollout/status';
import { safeText } from '../../../core/safeText';
import { eventCount, historyDocument } from '../../historyText';
import type { CommandContext } from '../commandContext';
import { requireConfig } from '../pick';
import { showReadOnly } from '../../previewDocuments';

/** Open History…: the whole history as a readable document, all actions or the one picked. */
export async function openHistory(ctx: CommandContext, args: { action?: string } = {}): Promise<vscode.TextDocument | undefined> {
  const config = requireConfig(ctx);
  const events = await history(config, { log: ctx.log });
  let action = args.action;
  if (action === undefined) {
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.action, (counts.get(e.action) ?? 0) + 1);
    const picked = await vscode.window.showQuickPick(
      [
        { label: 'All actions', description: eventCount(events.length), action: '' },
        ...[...counts].map(([a, n]) => ({ label: safeText(a, 40), description: eventCount(n), action: a })),
      ],
      { title: 'Open History', placeHolder: 'Which actions?' },
    );
    if (!picked) return undefined;
    action = picked.action;
  }
  return showReadOnly(
    action ? `History (${safeText(action, 40).replace(/[^\w.-]/g, '_')}).txt` : 'History.txt',
    historyDocument(events, action || undefined),
  );
}
