import * as vscode from 'vscode';
import { CancelledError, describeError, inputErrorsOf } from '../../core/errors';
import { toAbortSignal } from '../abort';
import { LockedError } from '../../core/exec/hostLock';
import { Commands } from '../contributions';
import type { CommandContext, CommandSpec } from './commandContext';

/**
 * Registers every command from the table through one wrapper that adds logging, trust checks,
 * and error reporting (located input errors point at Problems, failures at the log).
 */
export function registerCommands(table: CommandSpec[], ctx: CommandContext): vscode.Disposable[] {
  return table.map((spec) =>
    vscode.commands.registerCommand(spec.id, async (...args: unknown[]) => {
      if (spec.needsTrust && !vscode.workspace.isTrusted) {
        void vscode.window
          .showWarningMessage(
            'Phar Rollout starts no process in an untrusted workspace. Trust this folder to build, deploy or change traffic.',
            'Manage Workspace Trust',
          )
          .then((a) => {
            if (a) void vscode.commands.executeCommand('workbench.trust.manage');
          });
        return undefined;
      }
      const started = Date.now();
      ctx.log.debug(`${spec.id} started`);
      try {
        const result = await spec.handler(ctx, args[0], args[1]);
        ctx.log.debug(`${spec.id} finished in ${Date.now() - started} ms`);
        return result;
      } catch (err) {
        if (err instanceof CancelledError) {
          ctx.log.info(`${spec.id}: cancelled`);
          return undefined;
        }
        const located = inputErrorsOf(err);
        if (located.length > 0) {
          for (const e of located) ctx.log.error(e.format());
          const first = located[0];
          // "Show Problems" only when Problems has them: an error without a file location is not there.
          const inProblems = located.some((e) => e.location);
          void vscode.window
            .showErrorMessage(
              `${first.format()}${located.length > 1 ? ` (+${located.length - 1} more)` : ''}`,
              ...(inProblems ? ['Show Problems'] : []),
            )
            .then((a) => {
              if (a) void vscode.commands.executeCommand('workbench.actions.view.problems');
            });
          return undefined;
        }
        if (err instanceof LockedError) {
          // Someone else is changing this rollout: say who since when, and offer the (logged) way out.
          ctx.log.warn(describeError(err));
          void vscode.window.showWarningMessage(describeError(err), 'Force Unlock…').then((a) => {
            if (a) void vscode.commands.executeCommand(Commands.unlock);
          });
          return undefined;
        }
        ctx.log.error(`${spec.id} failed: ${describeError(err)}`);
        if (err instanceof Error && err.stack) ctx.log.debug(err.stack);
        void vscode.window.showErrorMessage(`Phar Rollout: ${describeError(err)}`, 'Show Log').then((a) => {
          if (a) ctx.channel.show(true);
        });
        return undefined;
      }
    }),
  );
}

/** The CommandContext.withProgress implementation: a cancellable notification. */
export function runWithProgress<T>(
  title: string,
  work: (signal: AbortSignal, report: (message: string, increment?: number) => void) => Promise<T>,
): Promise<T> {
  return Promise.resolve(
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
      work(toAbortSignal(token), (message, increment) => progress.report({ message, increment })),
    ),
  );
}
