import * as vscode from 'vscode';
import type { NodeOf } from '../../tree/viewNode';
import type { CommandContext } from '../commandContext';

/** Copy (context menu of the last build and of artifacts): the artifact id, version, commit and sha256. */
export async function copyValue(ctx: CommandContext, node?: NodeOf<'artifact'>): Promise<string | undefined> {
  const a = node && ctx.model.artifacts.find((x) => x.id === node.target.artifactId);
  if (!a) return undefined;
  const text = `${a.id}\nversion ${a.version}\ncommit ${a.commit}\nsha256 ${a.sha256}`;
  await vscode.env.clipboard.writeText(text);
  return text;
}
