import * as vscode from 'vscode';
import { modify } from 'jsonc-parser';
import type { InputError } from '../core/errors';

/** The obvious fix of one diagnostic: values to put in its place, or a JSON path to remove. */
interface Fix {
  replacements?: string[];
  removal?: InputError['removal'];
}

/**
 * Shows located input errors (composer.json, box.json, rollout.json) in the Problems panel, each once, and offers
 * the obvious fix of an error that carries one (an enum's allowed values, removing a duplicate) as quick fixes.
 * Syntax and duplicate-key faults of a file open in the editor are left to the editor's JSON service, which reports
 * them there itself; they come back here when the file is closed.
 */
export class ConfigDiagnostics implements vscode.Disposable, vscode.CodeActionProvider {
  static readonly kinds = [vscode.CodeActionKind.QuickFix];
  private readonly collection = vscode.languages.createDiagnosticCollection('phar-rollout');
  /** Fixes by diagnostic (VS Code hands copies to the provider: keyed by file, place and message). */
  private readonly fixes = new Map<string, Fix>();
  private errors: InputError[] = [];
  private readonly subscriptions = [
    vscode.workspace.onDidOpenTextDocument((d) => this.refreshIfListed(d.uri)),
    vscode.workspace.onDidCloseTextDocument((d) => this.refreshIfListed(d.uri)),
  ];

  set(errors: InputError[]): void {
    this.errors = errors;
    this.render();
  }

  private refreshIfListed(uri: vscode.Uri): void {
    if (uri.scheme === 'file' && this.errors.some((e) => e.syntax && e.location?.file === uri.fsPath)) this.render();
  }

  private render(): void {
    const open = new Set(
      vscode.workspace.textDocuments.filter((d) => d.uri.scheme === 'file' && /^jsonc?$/.test(d.languageId)).map((d) => d.uri.fsPath),
    );
    const byFile = new Map<string, vscode.Diagnostic[]>();
    this.fixes.clear();
    for (const e of this.errors) {
      if (!e.location || (e.syntax && open.has(e.location.file))) continue;
      const { file, line, column, length } = e.location;
      const start = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
      const range = new vscode.Range(start, start.translate(0, Math.max(1, length ?? 1)));
      const d = new vscode.Diagnostic(range, e.hint ? `${e.message}. ${e.hint}` : e.message, vscode.DiagnosticSeverity.Error);
      d.source = 'Phar Rollout';
      if (e.replacements?.length || e.removal) this.fixes.set(fixKey(vscode.Uri.file(file), d), e);
      byFile.set(file, [...(byFile.get(file) ?? []), d]);
    }
    this.collection.clear();
    for (const [file, list] of byFile) this.collection.set(vscode.Uri.file(file), list);
  }

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range, context: vscode.CodeActionContext): vscode.CodeAction[] {
    const actions: vscode.CodeAction[] = [];
    for (const d of context.diagnostics) {
      if (d.source !== 'Phar Rollout') continue;
      const fix = this.fixes.get(fixKey(document.uri, d));
      for (const value of fix?.replacements ?? []) {
        const action = new vscode.CodeAction(`Change to ${value}`, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [d];
        action.edit = new vscode.WorkspaceEdit();
        action.edit.replace(document.uri, d.range, value);
        actions.push(action);
      }
      if (fix?.removal) {
        const action = new vscode.CodeAction(fix.removal.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [d];
        action.isPreferred = true;
        action.edit = removalEdit(document, fix.removal.path);
        actions.push(action);
      }
    }
    return actions;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.collection.dispose();
  }
}

/** Removes the value at `path` (and its comma) as jsonc-parser formats it: the file stays valid JSON. */
function removalEdit(document: vscode.TextDocument, path: Array<string | number>): vscode.WorkspaceEdit {
  const eol = document.eol === vscode.EndOfLine.LF ? '\n' : '\r\n';
  const edit = new vscode.WorkspaceEdit();
  for (const e of modify(document.getText(), path, undefined, { formattingOptions: { insertSpaces: true, tabSize: 2, eol } }))
    edit.replace(document.uri, new vscode.Range(document.positionAt(e.offset), document.positionAt(e.offset + e.length)), e.content);
  return edit;
}

function fixKey(uri: vscode.Uri, d: vscode.Diagnostic): string {
  return `${uri.fsPath}\0${d.range.start.line}:${d.range.start.character}\0${d.message}`;
}
