import * as vscode from 'vscode';
import type { InputError } from '../core/errors';

/**
 * Shows located input errors (composer.json, box.json, rollout.json) in the Problems panel, and offers
 * the obvious fix of an error that carries its replacements (an enum's allowed values) as quick fixes.
 */
export class ConfigDiagnostics implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  private readonly collection = vscode.languages.createDiagnosticCollection('phar-rollout');
  /** Replacements by diagnostic (VS Code hands copies to the provider: keyed by file, place and message). */
  private readonly fixes = new Map<string, string[]>();

  set(errors: InputError[]): void {
    const byFile = new Map<string, vscode.Diagnostic[]>();
    this.fixes.clear();
    for (const e of errors) {
      if (!e.location) continue;
      const { file, line, column, length } = e.location;
      const start = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
      const range = new vscode.Range(start, start.translate(0, Math.max(1, length ?? 1)));
      const d = new vscode.Diagnostic(range, e.hint ? `${e.message}. ${e.hint}` : e.message, vscode.DiagnosticSeverity.Error);
      d.source = 'Phar Rollout';
      if (e.replacements?.length) this.fixes.set(fixKey(vscode.Uri.file(file), d), e.replacements);
      byFile.set(file, [...(byFile.get(file) ?? []), d]);
    }
    this.collection.clear();
    for (const [file, list] of byFile) this.collection.set(vscode.Uri.file(file), list);
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      if (d.source !== 'Phar Rollout') continue;
      for (const value of this.fixes.get(fixKey(document.uri, d)) ?? []) {
        const action = new vscode.CodeAction(`Change to ${value}`, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [d];
        action.edit = new vscode.WorkspaceEdit();
        action.edit.replace(document.uri, d.range, value);
        actions.push(action);
      }
    }
    return actions;
  }

  dispose(): void {
    this.collection.dispose();
  }
}

function fixKey(uri: vscode.Uri, d: vscode.Diagnostic): string {
  return `${uri.fsPath}\0${d.range.start.line}:${d.range.start.character}\0${d.message}`;
}
