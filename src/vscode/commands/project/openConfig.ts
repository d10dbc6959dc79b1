import * as vscode from 'vscode';
import * as path from 'node:path';
import { ROLLOUT_FILE } from '../../../core/config/rolloutConfig';
import type { CommandContext } from '../commandContext';

/** Open rollout.json. */
export async function openConfig(ctx: CommandContext): Promise<void> {
  if (ctx.model.root) await vscode.window.showTextDocument(vscode.Uri.file(path.join(ctx.model.root, ROLLOUT_FILE)));
}
