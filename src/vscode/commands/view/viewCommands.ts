import * as vscode from 'vscode';
import { Views } from '../../constants';
import type { CommandContext } from '../commandContext';

export async function refresh(ctx: CommandContext): Promise<void> {
  await ctx.model.reload();
  await ctx.model.refreshLive();
}

export async function showPanel(): Promise<void> {
  await vscode.commands.executeCommand(`workbench.view.extension.${Views.container}`);
}

export function showLog(ctx: CommandContext): void {
  ctx.channel.show(true);
}

/** Copies an item's tooltip-worthy value (artifact id and sha256). */
export async function copyValue(_ctx: CommandContext, node?: { item?: vscode.TreeItem }): Promise<void> {
  const item = node?.item;
  if (!item) return;
  const text = typeof item.tooltip === 'string' ? item.tooltip : (item.tooltip?.value ?? String(item.label));
  await vscode.env.clipboard.writeText(text);
}
