import * as vscode from 'vscode';
import type { CommandContext } from '../commandContext';

/** Copy (context menu of builds and artifacts): the row's details, artifact id and sha256 included. */
export async function copyValue(_ctx: CommandContext, node?: { item?: vscode.TreeItem }): Promise<void> {
  const item = node?.item;
  if (!item) return;
  const text = typeof item.tooltip === 'string' ? item.tooltip : (item.tooltip?.value ?? String(item.label));
  await vscode.env.clipboard.writeText(text);
}
