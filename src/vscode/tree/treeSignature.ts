import type * as vscode from 'vscode';

export interface SignedNode {
  item: vscode.TreeItem;
  children?: () => SignedNode[];
}

/** A tooltip as text (a MarkdownString's source), for comparing two readings. */
export function tooltipText(tooltip: vscode.TreeItem['tooltip']): string {
  return typeof tooltip === 'string' ? tooltip : (tooltip?.value ?? '');
}

/**
 * What a tree shows, as one string: every row's id, label, description, context value and icon,
 * children included, and the tooltip of rows without an id. Providers rebuild the tree only when
 * it differs, so a periodic refresh that finds nothing new does not: a rebuild briefly detaches
 * the nodes that context menus pass to commands, and a right-click in that moment would reach the
 * command with no node. Tooltips of rows with an id are compared apart (tooltipsById) and updated
 * row by row, so a backend's latency in its tooltip stays current without a rebuild.
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
      const tooltip = i.id ? '' : JSON.stringify(tooltipText(i.tooltip));
      parts.push(
        `${depth}|${i.id ?? ''}|${typeof i.label === 'string' ? i.label : (i.label?.label ?? '')}|${String(i.description ?? '')}|${i.contextValue ?? ''}|${icon}|${i.collapsibleState ?? ''}|${tooltip}`,
      );
      if (n.children) walk(n.children(), depth + 1);
    }
  };
  walk(roots, 0);
  return parts.join('\n');
}

/** Every row with an id, children included, with its tooltip: what a row-by-row update compares. */
export function tooltipsById<N extends SignedNode>(roots: N[]): Map<string, { node: N; tooltip: string }> {
  const out = new Map<string, { node: N; tooltip: string }>();
  const walk = (nodes: N[]) => {
    for (const n of nodes) {
      if (n.item.id) out.set(n.item.id, { node: n, tooltip: tooltipText(n.item.tooltip) });
      if (n.children) walk(n.children() as N[]);
    }
  };
  walk(roots);
  return out;
}
