import * as vscode from 'vscode';
import { Commands } from '../../contributions';
import { isNodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';

/**
 * What Enter or a click on a row runs (through rowCommand, which passes the row's node): Show Details for a
 * backend or load balancer, Open History for the History row, Deploy… with the last build. Each runs as its own
 * command, so its trust check and error reporting apply.
 */
export async function openRow(ctx: CommandContext, node: unknown): Promise<unknown> {
  if (isNodeOf(node, 'backend', 'loadBalancer')) return vscode.commands.executeCommand(Commands.showDetails, node);
  if (isNodeOf(node, 'history')) return vscode.commands.executeCommand(Commands.openHistory, undefined, { action: '' });
  if (isNodeOf(node, 'artifact')) return vscode.commands.executeCommand(Commands.deploy, undefined, { artifactId: node.target.artifactId });
  ctx.log.info('Open Row: no row was given (it runs from a row of the Phar Rollout views)');
  return undefined;
}
