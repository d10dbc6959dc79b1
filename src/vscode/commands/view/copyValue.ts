import * as vscode from 'vscode';
import type { CommandContext } from '../commandContext';

/** Copy (context menu of the build and of artifacts): the artifact id, version, commit and sha256. */
export async function copyValue(ctx: CommandContext, node?: { item?: vscode.TreeItem; artifactId?: string }): Promise<string | undefined> {
  const a = ctx.model.artifacts.find((x) => x.id === node?.artifactId);
  const text = a
    ? `${a.id}\nversion ${a.version}\ncommit ${a.commit}\nsha256 ${a.sha256}`
    : node?.item
      ? String(typeof node.item.label === 'string' ? node.item.label : node.item.label?.label)
      : undefined;
  if (text) await vscode.env.clipboard.writeText(text);
  return text;
}
