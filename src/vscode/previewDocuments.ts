import * as vscode from 'vscode';

export const PREVIEW_SCHEME = 'pharrollout-preview';

/** Read-only in-memory documents, so a ramp's nginx change can be shown in VS Code's diff editor. */
export class PreviewDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '';
  }

  /** Stores `text` under a fresh URI whose file name is `name` (keeps nginx syntax colouring). */
  add(name: string, text: string): vscode.Uri {
    const key = `/${++this.counter}/${name}`;
    this.texts.set(key, text);
    if (this.texts.size > 40) this.texts.delete(this.texts.keys().next().value!);
    return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: key });
  }
}

export const previewDocuments = new PreviewDocuments();
