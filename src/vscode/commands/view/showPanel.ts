import * as vscode from 'vscode';
import { Views } from '../../contributions';

/** Show Panel (also the status bar items' click): reveals the Phar Rollout container. */
export async function showPanel(): Promise<void> {
  await vscode.commands.executeCommand(`workbench.view.extension.${Views.container}`);
}
