import * as vscode from 'vscode';

/**
 * The only way foreign text reaches a tooltip as markdown: never trusted (no command links), no
 * HTML, no `$(icon)` rendering. Build `value` with format.ts's `md` so foreign values are escaped.
 */
export function foreignMarkdown(value = ''): vscode.MarkdownString {
  const markdown = new vscode.MarkdownString(value, false);
  markdown.isTrusted = false;
  markdown.supportHtml = false;
  return markdown;
}
