/**
 * The nodes of both trees and the type guards that commands use on what VS Code hands them (a tree
 * node from a menu, nothing from the palette, anything from a keybinding or another extension).
 * Type-only vscode import: the guards run in unit tests too.
 */
import type * as vscode from 'vscode';
import type { Group } from '../../core/config/rolloutConfig';

/** What a row stands for: what a context-menu command receives and acts on. */
export type NodeTarget =
  | { kind: 'backend'; name: string; group: Group }
  | { kind: 'group'; group: Group }
  | { kind: 'loadBalancer'; name: string }
  | { kind: 'rollout' }
  | { kind: 'lock' }
  | { kind: 'history' }
  | { kind: 'artifact'; artifactId: string };

export type NodeKind = NodeTarget['kind'];

/** A row of either tree: its TreeItem, what it stands for, and its children (computed on expand). */
export interface ViewNode {
  item: vscode.TreeItem;
  target?: NodeTarget;
  children?: () => ViewNode[];
}

/** A node whose target is of one of the given kinds. */
export type NodeOf<K extends NodeKind> = ViewNode & { target: Extract<NodeTarget, { kind: K }> };

const isGroup = (v: unknown): v is Group => v === 'stable' || v === 'canary';

/** The fields each kind of target must have (a Record, so a new kind fails to compile until checked). */
const targetShape: { [K in NodeKind]: (t: Record<string, unknown>) => boolean } = {
  backend: (t) => typeof t.name === 'string' && isGroup(t.group),
  group: (t) => isGroup(t.group),
  loadBalancer: (t) => typeof t.name === 'string',
  rollout: () => true,
  lock: () => true,
  history: () => true,
  artifact: (t) => typeof t.artifactId === 'string',
};

/**
 * True when `value` is a tree node whose target is one of `kinds`, with that kind's fields
 * (like GitLens' `isCommandContextViewNodeHas…`): handlers narrow with it instead of casting.
 */
export function isNodeOf<K extends NodeKind>(value: unknown, ...kinds: K[]): value is NodeOf<K> {
  if (typeof value !== 'object' || value === null) return false;
  const { item, target } = value as { item?: unknown; target?: unknown };
  if (typeof item !== 'object' || item === null || typeof target !== 'object' || target === null) return false;
  const kind = (target as { kind?: unknown }).kind;
  return (
    typeof kind === 'string' &&
    (kinds as string[]).includes(kind) &&
    Object.prototype.hasOwnProperty.call(targetShape, kind) &&
    targetShape[kind as NodeKind](target as Record<string, unknown>)
  );
}
