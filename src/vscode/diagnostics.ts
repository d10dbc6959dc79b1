import * as vscode from 'vscode';
import type { InputError } from '../core/errors';

/** Shows located input errors (composer.json, box.json, rollout.json) in the Problems panel. */
export class ConfigDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('phar-rollout');

  set(errors: InputError[]): void {
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const e of errors) {
      if (!e.location) continue;
      const { file, line, column, length } = e.location;
      const start = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
      const range = new vscode.Range(start, start.translate(0, Math.max(1, length ?? 1)));
      const d = new vscode.Diagnostic(range, e.hint ? `${e.message}. ${e.hint}` : e.message, vscode.DiagnosticSeverity.Error);
      d.source = 'Phar Rollout';
      byFile.set(file, [...(byFile.get(file) ?? []), d]);
    }
    this.collection.clear();
    for (const [file, list] of byFile) this.collection.set(vscode.Uri.file(file), list);
  }

  dispose(): void {
    this.collection.dispose();
  }
}
