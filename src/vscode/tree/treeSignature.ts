import * as vscode from 'vscode';

export interface SignedNode {
  item: vscode.TreeItem;
  children?: () => SignedNode[];
}

/**
 * What a tree shows, as one string: every row's id, label, description, context value and icon,
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
      parts.push(
        `${depth}|${i.id ?? ''}|${typeof i.label === 'string' ? i.label : (i.label?.label ?? '')}|${String(i.description ?? '')}|${i.contextValue ?? ''}|${icon}|${i.collapsibleState ?? ''}`,
      );
      if (n.children) walk(n.children(), depth + 1);
    }
  };
  walk(roots, 0);
  return parts.join('\n');
}

/**
 * The common part of the extension's tree providers: nodes carry their TreeItem, children are
 * functions, and a model change refreshes the view only when the rows differ (see treeSignature).
 */
export abstract class SignedTreeProvider<N extends SignedNode> implements vscode.TreeDataProvider<N> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private shown = '';

  constructor(onModelChange: vscode.Event<void>) {
    onModelChange(() => {
      const signature = treeSignature(this.getChildren());
      if (signature === this.shown) return;
      this.shown = signature;
      this.changed.fire();
    });
  }

  getTreeItem(node: N): vscode.TreeItem {
    return node.item;
  }

  getChildren(node?: N): N[] {
    return node ? ((node.children?.() as N[] | undefined) ?? []) : this.roots();
  }

  /** The top-level rows. */
  protected abstract roots(): N[];
}
