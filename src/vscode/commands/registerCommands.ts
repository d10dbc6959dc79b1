import * as vscode from 'vscode';
import { CancelledError, describeError, inputErrorsOf } from '../../core/errors';
import { delay } from '../../core/delay';
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

/** Work that ends within this shows no progress notification at all. */
const PROGRESS_DELAY_MS = 400;
/** VS Code keeps a progress notification open for 800 ms after it appeared, however soon the work ends. */
const PROGRESS_MIN_VISIBLE_MS = 850;

/**
 * The CommandContext.withProgress implementation: a cancellable notification, opened only when the
 * work takes longer than PROGRESS_DELAY_MS, and resolved only once VS Code has closed it, so the
 * result a command shows next never appears beside a progress notification that is still open.
 */
export async function runWithProgress<T>(
  title: string,
  work: (signal: AbortSignal, report: (message: string, increment?: number) => void) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  // What was reported before the notification opened: the last message and the increments so far.
  let early: { message?: string; increment?: number } | undefined;
  const report = (message: string, increment?: number) => {
    if (progress) progress.report({ message, increment });
    else early = { message, increment: increment === undefined ? early?.increment : (early?.increment ?? 0) + increment };
  };
  const running = work(abort.signal, report);
  const settled = running.then(
    () => true,
    () => true,
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PROGRESS_DELAY_MS)));
  const quick = await Promise.race([settled, late]);
  clearTimeout(timer);
  if (quick) return running;
  let shownAt = Date.now();
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (p, token) => {
    progress = p;
    shownAt = Date.now();
    if (early) p.report(early);
    token.onCancellationRequested(() => abort.abort());
    return settled;
  });
  const visible = Date.now() - shownAt;
  if (visible < PROGRESS_MIN_VISIBLE_MS) await delay(PROGRESS_MIN_VISIBLE_MS - visible);
  return running;
}
