import * as vscode from 'vscode';
import type { CommandId } from './contributions';

/** A next step offered on a notification: a button that runs a command of the extension. */
export interface NextStep {
  title: string;
  command: CommandId;
  args?: unknown[];
}

/** A result notification with the next steps as buttons (never a CLI verb to type). */
export function notify(kind: 'info' | 'warning', message: string, steps: readonly NextStep[] = []): void {
  const show = kind === 'info' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(message, ...steps.map((s) => s.title)).then((picked) => {
    const step = steps.find((s) => s.title === picked);
    if (step) void vscode.commands.executeCommand(step.command, ...(step.args ?? []));
  });
}
