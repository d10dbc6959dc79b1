import * as vscode from 'vscode';
import { Commands } from '../contributions';
import type { NodeTarget } from './viewNode';

/**
 * The command Enter or a click on a row runs when its action needs the row (Show Details, Open History,
 * Deploy… with the last build): one plain command id per row target, registered on first use, that calls
 * openRow with the target.
 *
 * Why not `arguments` on the TreeItem's command: VS Code keeps a tree command's arguments only until the row
 * is next refreshed, so Enter on a row selected before a refresh fails with "Actual command not found". Why
 * not the view's selection: the extension host can learn of the selection after the command has started, and
 * would act on no row or the previous one. A command id without arguments is neither.
 */
const registered = new Map<string, vscode.Disposable>();

export function rowCommand(title: string, target: NodeTarget): vscode.Command {
  const key = [target.kind, 'name' in target ? target.name : 'artifactId' in target ? target.artifactId : ''].join('.');
  const command = `${Commands.openRow}.${encodeURIComponent(key)}`;
  if (!registered.has(command)) {
    try {
      registered.set(
        command,
        vscode.commands.registerCommand(command, () => vscode.commands.executeCommand(Commands.openRow, { item: {}, target })),
      );
    } catch {
      // Registered by another copy of this module (the extension-host tests build trees from their own): the
      // id names the target, so that command does the same.
      registered.set(command, { dispose: () => undefined });
    }
  }
  return { command, title };
}

/** Unregisters every row command (the extension's deactivation). */
export const rowCommands: vscode.Disposable = {
  dispose() {
    for (const d of registered.values()) d.dispose();
    registered.clear();
  },
};
