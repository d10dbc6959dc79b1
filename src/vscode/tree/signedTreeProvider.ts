import * as vscode from 'vscode';
import type { SignedNode } from './treeSignature';
import { treeSignature } from './treeSignature';

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
