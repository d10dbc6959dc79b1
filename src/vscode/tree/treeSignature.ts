import type * as vscode from 'vscode';

export interface SignedNode {
  item: vscode.TreeItem;
  children?: () => SignedNode[];
}

/**
 * What a tree shows, as one string: every row's id, label, description, context value, icon and tooltip,
 * children included. Providers fire a change only when it differs, so a periodic refresh that
 * finds nothing new does not rebuild the tree: a rebuild briefly detaches the nodes that context
 * menus pass to commands, and a right-click in that moment would reach the command with no node.
 */
export function treeSignature(roots: SignedNode[]): string {
  const parts: string[] = [];
  const walk = (nodes: SignedNode[], depth: number) => {
    for (const n of nodes) {
      const i = n.item;
      const icon =
        i.iconPath && typeof i.iconPath === 'object' && 'id' in i.iconPath
          ? `${i.iconPath.id}/${(i.iconPath as vscode.ThemeIcon).color?.id ?? ''}`
          : '';
      // The tooltip too: a backend whose latency or served table changed must not keep the old one.
      const tooltip = typeof i.tooltip === 'string' ? i.tooltip : (i.tooltip?.value ?? '');
      parts.push(
        `${depth}|${i.id ?? ''}|${typeof i.label === 'string' ? i.label : (i.label?.label ?? '')}|${String(i.description ?? '')}|${i.contextValue ?? ''}|${icon}|${i.collapsibleState ?? ''}|${JSON.stringify(tooltip)}`,
      );
      if (n.children) walk(n.children(), depth + 1);
    }
  };
  walk(roots, 0);
  return parts.join('\n');
}
