import * as vscode from 'vscode';
import { SignedTreeProvider } from './treeSignature';
import type { ProjectModel } from '../projectModel';
import type { BackendView, HistoryView, LoadBalancerView } from '../liveState';
import { formatAge, formatPercent, percentBar } from '../format';
import type { Group } from '../../core/config/rolloutConfig';
import { versionOfArtifactId } from '../../core/phar/artifactStore';

/** A node in the Rollout view; `target` is what a context-menu command receives. */
export interface RolloutNode {
  item: vscode.TreeItem;
  target?:
    | { kind: 'backend'; name: string; group: Group }
    | { kind: 'group'; group: Group }
    | { kind: 'loadBalancer'; name: string }
    | { kind: 'rollout' }
    | { kind: 'lock' };
  children?: () => RolloutNode[];
}

/** The "Rollout" view: the rollout in progress, load balancers, stable and canary backends, history. */
export class RolloutTreeProvider extends SignedTreeProvider<RolloutNode> {
  constructor(private readonly model: ProjectModel) {
    super(model.onDidChange);
  }

  protected roots(): RolloutNode[] {
    const m = this.model;
    // Empty without rollout.json, so the welcome view (Create rollout.json) shows.
    if (!m.root || !m.hasRolloutJson) return [];
    const config = m.config;
    if (!config) {
      const item = new vscode.TreeItem('rollout.json has errors', vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
      item.description = 'see Problems';
      item.command = { command: 'workbench.actions.view.problems', title: 'Show Problems' };
      return [{ item }];
    }
    const live = m.live;
    const nodes: RolloutNode[] = [];
    if (!m.trusted) {
      const item = new vscode.TreeItem('Restricted mode', vscode.TreeItemCollapsibleState.None);
      item.description = 'trust the workspace to probe, deploy and ramp';
      item.iconPath = new vscode.ThemeIcon('shield');
      item.command = { command: 'workbench.trust.manage', title: 'Manage Workspace Trust' };
      nodes.push({ item });
    }
    if (live.lock) {
      const item = new vscode.TreeItem(`Locked by ${live.lock.owner}`, vscode.TreeItemCollapsibleState.None);
      item.description = `since ${formatAge(live.lock.since)}${live.lock.operation ? ` · ${live.lock.operation}` : ''}`;
      item.iconPath = new vscode.ThemeIcon('lock', new vscode.ThemeColor('list.warningForeground'));
      item.contextValue = 'lock';
      item.tooltip = `${live.lock.owner} holds the rollout lock since ${live.lock.since}. Force Unlock is logged in the history.`;
      nodes.push({ item, target: { kind: 'lock' } });
    }
    if (config.loadBalancers.length > 0)
      nodes.push(
        rolloutNode(m),
        ...config.loadBalancers.map((lb) =>
          lbNode(
            lb.name,
            live.loadBalancers.find((l) => l.name === lb.name),
            live.refreshing,
          ),
        ),
      );
    for (const group of ['stable', 'canary'] as const) {
      const backends = config.backends.filter((b) => b.group === group);
      if (backends.length === 0) continue;
      const views = backends.map((b) => live.backends.find((v) => v.name === b.name));
      const item = new vscode.TreeItem(group === 'stable' ? 'Stable' : 'Canary', vscode.TreeItemCollapsibleState.Expanded);
      item.id = `group:${group}`;
      const versions = [...new Set(views.map((v) => v?.served ?? v?.deployed).filter(Boolean))];
      item.description = `${backends.length} backend${backends.length === 1 ? '' : 's'}${versions.length ? ` · ${versions.join(', ')}` : ''}`;
      item.iconPath = new vscode.ThemeIcon(group === 'stable' ? 'server-environment' : 'beaker');
      item.contextValue = `group.${group}`;
      nodes.push({
        item,
        target: { kind: 'group', group },
        children: () => backends.map((b, i) => backendNode(b.name, group, views[i], live.refreshing)),
      });
    }
    const history = new vscode.TreeItem('History', vscode.TreeItemCollapsibleState.Collapsed);
    history.id = 'history';
    history.iconPath = new vscode.ThemeIcon('history');
    history.description = live.history.length ? `${live.history.length} events` : 'empty';
    history.contextValue = 'history';
    nodes.push({ item: history, children: () => [...live.history].reverse().map(historyNode) });
    return nodes;
  }
}

function rolloutNode(m: ProjectModel): RolloutNode {
  const r = m.live.rollout;
  const split = r?.split ?? 0;
  const item = new vscode.TreeItem(`Canary ${formatPercent(split)}`, vscode.TreeItemCollapsibleState.None);
  item.id = 'rollout';
  const stepText = r?.steps && r.step !== undefined ? ` · step ${r.step + 1}/${r.steps.length}` : '';
  item.description = `${percentBar(split)} ${r?.status ?? 'idle'}${stepText}`;
  const failed = r?.status === 'failed';
  item.iconPath = new vscode.ThemeIcon(
    failed ? 'error' : r?.status === 'paused' ? 'debug-pause' : 'arrow-swap',
    failed ? new vscode.ThemeColor('problemsErrorIcon.foreground') : undefined,
  );
  item.tooltip = r?.message ?? `Canary traffic ${formatPercent(split)}`;
  item.contextValue = `rolloutState.${r?.status ?? 'idle'}`;
  return { item, target: { kind: 'rollout' } };
}

function lbNode(name: string, view: LoadBalancerView | undefined, refreshing: boolean): RolloutNode {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `lb:${name}`;
  if (view?.split !== undefined) {
    item.description = `canary ${formatPercent(view.split)} ${percentBar(view.split)}`;
    item.iconPath = new vscode.ThemeIcon('globe');
    item.tooltip = `nginx load balancer ${name}: ${formatPercent(view.split)} of requests go to the canary group.`;
  } else {
    item.description = view?.error ? 'unreadable' : refreshing ? 'reading…' : 'unknown';
    item.iconPath = new vscode.ThemeIcon(
      view?.error ? 'warning' : 'globe',
      view?.error ? new vscode.ThemeColor('list.warningForeground') : undefined,
    );
    item.tooltip = view?.error;
  }
  item.contextValue = 'loadBalancer';
  return { item, target: { kind: 'loadBalancer', name } };
}

/** A probe slower than this is shown on the row (always in the tooltip). */
const SLOW_MS = 500;

function backendNode(name: string, group: Group, v: BackendView | undefined, refreshing: boolean): RolloutNode {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `backend:${name}`;
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${name}** (${group})\n\n`);
  if (!v) {
    item.description = refreshing ? 'probing…' : 'not probed';
    item.iconPath = new vscode.ThemeIcon('circle-outline');
  } else if (!v.healthy) {
    item.description = `unreachable${v.error ? `: ${shortError(v.error)}` : ''}`;
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    md.appendMarkdown(`Unreachable: ${v.error ?? 'no answer'}\n\n`);
  } else if (v.drift) {
    item.description = `deployed ${v.deployed}, still serving ${v.served}`;
    item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  } else {
    // Latency only when it matters: a row that changed with every probe would rebuild the tree each refresh.
    const slow = v.latencyMs !== undefined && v.latencyMs >= SLOW_MS ? ` · slow (${Math.round(v.latencyMs)} ms)` : '';
    item.description = `${v.served ?? v.deployed ?? '?'}${slow}`;
    item.iconPath = new vscode.ThemeIcon(
      slow ? 'watch' : 'pass',
      new vscode.ThemeColor(slow ? 'list.warningForeground' : 'testing.iconPassed'),
    );
  }

  if (v) {
    md.appendMarkdown(
      `| | |\n|---|---|\n| served | ${v.served ?? '—'} |\n| deployed | ${v.deployed ?? '—'} |\n| latency | ${v.latencyMs !== undefined ? `${Math.round(v.latencyMs)} ms` : '—'} |\n`,
    );
  }
  item.tooltip = md;
  item.contextValue = `backend.${group}`;
  return { item, target: { kind: 'backend', name, group } };
}

function historyNode(h: HistoryView): RolloutNode {
  const item = new vscode.TreeItem(`${h.action}${h.target ? ` ${h.target}` : ''}`, vscode.TreeItemCollapsibleState.None);
  const change = h.before !== undefined || h.after !== undefined ? `${short(h.before)} → ${short(h.after)}` : '';
  item.description = [change, h.user, formatAge(h.time)].filter(Boolean).join(' · ');
  item.tooltip = `${h.time}\n${h.user}\n${h.action} ${h.target ?? ''}\nbefore: ${JSON.stringify(h.before)}\nafter: ${JSON.stringify(h.after)}\nresult: ${h.result ?? ''}`;
  const ok = !h.result || /^(ok|pass)\b/.test(h.result); // 'ok', 'ok (forced)', a gate's 'pass'
  item.iconPath = new vscode.ThemeIcon(
    ok ? 'circle-small-filled' : 'error',
    ok ? undefined : new vscode.ThemeColor('problemsErrorIcon.foreground'),
  );
  item.contextValue = 'historyEvent';
  return { item };
}

function short(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'number') return formatPercent(v);
  if (typeof v === 'string') return v;
  const o = v as Record<string, unknown>;
  if (typeof o.split === 'number') return formatPercent(o.split);
  if (typeof o.version === 'string') return o.version;
  if (o.releases && typeof o.releases === 'object') {
    const versions = [
      ...new Set(Object.values(o.releases as Record<string, string | null>).map((id) => (id ? versionOfArtifactId(id) : 'none'))),
    ];
    return versions.join(', ');
  }
  if (typeof o.artifact === 'string') return versionOfArtifactId(o.artifact);
  if (typeof o.status === 'string') return o.status;
  return JSON.stringify(v).slice(0, 40);
}

function shortError(e: string): string {
  return e.length > 60 ? `${e.slice(0, 57)}…` : e;
}
