import type * as vscode from 'vscode';

/** Turns a CancellationToken into the AbortSignal the core understands. */
export function toAbortSignal(token: vscode.CancellationToken | undefined): AbortSignal {
  const controller = new AbortController();
  if (token?.isCancellationRequested) controller.abort();
  token?.onCancellationRequested(() => controller.abort());
  return controller.signal;
}
