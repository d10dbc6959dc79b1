import * as vscode from 'vscode';
import type { SignedNode } from './treeSignature';
import { tooltipText, tooltipsById, treeSignature } from './treeSignature';

/**
 * The common part of the extension's tree providers: nodes carry their TreeItem, children are
 * functions, and a model change rebuilds the view only when the rows differ (see treeSignature).
 * When only tooltips differ, the rows VS Code holds get the new tooltip and are refreshed one by
 * one: they stay the same objects, so a context menu open on one still passes its node.
 */
export abstract class SignedTreeProvider<N extends SignedNode> implements vscode.TreeDataProvider<N> {
  private readonly changed = new vscode.EventEmitter<N[] | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private shown = '';
  /** The nodes VS Code fetched last, by item id (what it passes to commands and can refresh). */
  private held = new Map<string, N>();

  constructor(onModelChange: vscode.Event<void>) {
    onModelChange(() => {
      const roots = this.roots();
      const signature = treeSignature(roots);
      if (signature !== this.shown) {
        this.shown = signature;
        this.held = new Map(); // VS Code fetches anew; getChildren records what it gets
        this.changed.fire(undefined);
        return;
      }
      const stale: N[] = [];
      for (const [id, fresh] of tooltipsById(roots)) {
        const old = this.held.get(id);
        if (!old || tooltipText(old.item.tooltip) === fresh.tooltip) continue;
        old.item.tooltip = fresh.node.item.tooltip;
        stale.push(old);
      }
      if (stale.length > 0) this.changed.fire(stale);
    });
  }

  getTreeItem(node: N): vscode.TreeItem {
    return node.item;
  }

  getChildren(node?: N): N[] {
    const nodes = node ? ((node.children?.() as N[] | undefined) ?? []) : this.roots();
    for (const n of nodes) if (n.item.id) this.held.set(n.item.id, n);
    return nodes;
  }

  /** The top-level rows. */
  protected abstract roots(): N[];
}
