import * as vscode from 'vscode';
import { SignedTreeProvider } from './signedTreeProvider';
import type { ProjectModel } from '../projectModel';
import type { BackendView, HistoryView, LoadBalancerView } from '../liveState';
import { disagreement } from '../liveState';
import { formatAge, formatLatency, formatPercent, md, percentBar } from '../format';
import type { Group } from '../../core/config/rolloutConfig';
import { eventCount, historyChange, historyKind, historyResult, historyTime } from '../historyText';
import type { HistoryKind } from '../historyText';
import { safeText } from '../../core/safeText';
import { Commands, ContextValues, rolloutStateContextValue } from '../contributions';
import type { ContextValue, RolloutRowStatus } from '../contributions';
import { foreignMarkdown } from '../markdown';
import { placeholderBackends } from '../placeholders';
import { errorPct, lastWindow, p95Text } from '../timelineSeries';
import type { ViewNode } from './viewNode';
import { rowCommand } from './rowCommands';
import { statusUrl } from '../detailsText';

/** A node in the Rollout view; `target` is what a context-menu command receives. */
export type RolloutNode = ViewNode;

/** The "Rollout" view: the rollout in progress, load balancers, stable and canary backends, history. */
export class RolloutTreeProvider extends SignedTreeProvider<RolloutNode> {
  constructor(private readonly model: ProjectModel) {
    super(model.onDidChange);
  }

  protected roots(): RolloutNode[] {
    const m = this.model;
    // Empty without rollout.json, so the welcome view (Create rollout.json) shows.
    if (!m.root || !m.hasRolloutJson) return [];
    // rollout.json with errors: the live state read with the last applied configuration (emergency path).
    const config = m.liveConfig;
    if (!config) return [configErrorNode(m)];
    const live = m.live;
    const nodes: RolloutNode[] = m.config ? [] : [configErrorNode(m)];
    if (!m.trusted) {
      const item = new vscode.TreeItem('Restricted mode', vscode.TreeItemCollapsibleState.None);
      item.description = 'trust the workspace to probe, deploy and ramp';
      item.iconPath = new vscode.ThemeIcon('shield');
      item.command = { command: 'workbench.trust.manage', title: 'Manage Workspace Trust' };
      nodes.push({ item });
    }
    // The starter's example backends are not servers: say so instead of showing them as red and unreachable.
    const placeholders = new Set(m.config ? placeholderBackends(config.projectDir, config.backends) : []);
    if (placeholders.size > 0) {
      const item = new vscode.TreeItem('Edit rollout.json', vscode.TreeItemCollapsibleState.None);
      item.id = 'placeholders';
      item.description = `${placeholders.size} placeholder backend${placeholders.size === 1 ? '' : 's'}`;
      item.tooltip = `${[...placeholders].map((n) => safeText(n, 60)).join(', ')} ${placeholders.size === 1 ? 'is an example' : 'are examples'} from the starter rollout.json: replace them with your servers (name, upstream, dir, probe; "ssh" for a remote one).`;
      item.iconPath = new vscode.ThemeIcon('edit');
      item.command = { command: Commands.openConfig, title: 'Open rollout.json' };
      nodes.push({ item });
    }
    if (live.lock) {
      const owner = safeText(live.lock.owner);
      const item = new vscode.TreeItem(`Locked by ${owner}`, vscode.TreeItemCollapsibleState.None);
      item.description = `since ${formatAge(live.lock.since)}${live.lock.operation ? ` · ${safeText(live.lock.operation)}` : ''}`;
      item.iconPath = new vscode.ThemeIcon('lock', new vscode.ThemeColor('list.warningForeground'));
      item.contextValue = ContextValues.lock satisfies ContextValue;
      // A plain-string tooltip is shown as text, never rendered as markdown.
      item.tooltip = `${owner} holds the rollout lock since ${safeText(live.lock.since)}. Force Unlock is logged in the history.`;
      nodes.push({ item, target: { kind: 'lock' } });
    }
    nodes.push(...live.loadBalancers.filter((l) => disagreement(l) && (l.split !== undefined || l.interrupted)).map(driftNode));
    if (config.loadBalancers.length > 0)
      nodes.push(
        rolloutNode(m),
        ...config.loadBalancers.map((lb) =>
          lbNode(
            lb.name,
            live.loadBalancers.find((l) => l.name === lb.name),
            live.refreshing,
            statusUrl(lb),
          ),
        ),
      );
    for (const group of ['stable', 'canary'] as const) {
      const backends = config.backends.filter((b) => b.group === group);
      if (backends.length === 0) continue;
      const views = backends.map((b) => live.backends.find((v) => v.name === b.name));
      const item = new vscode.TreeItem(group === 'stable' ? 'Stable' : 'Canary', vscode.TreeItemCollapsibleState.Expanded);
      item.id = `group:${group}`;
      const versions = [...new Set(views.map((v) => v?.served ?? v?.deployed).filter(Boolean))].map((v) => safeText(v, 40));
      const down = views.filter((v, i) => v && !v.healthy && !placeholders.has(backends[i].name)).length;
      item.description = groupDescription(backends.length, down, versions);
      item.iconPath = new vscode.ThemeIcon(
        group === 'stable' ? 'server-environment' : 'beaker',
        down ? new vscode.ThemeColor('list.warningForeground') : undefined,
      );
      item.contextValue = (group === 'stable' ? ContextValues.stableGroup : ContextValues.canaryGroup) satisfies ContextValue;
      nodes.push({
        item,
        target: { kind: 'group', group },
        children: () =>
          backends.map((b, i) =>
            placeholders.has(b.name) ? placeholderNode(b.name, group) : backendNode(b.name, group, views[i], live.refreshing),
          ),
      });
    }
    const history = new vscode.TreeItem('History', vscode.TreeItemCollapsibleState.Collapsed);
    history.id = 'history';
    history.iconPath = new vscode.ThemeIcon('history');
    history.description = live.history.length ? eventCount(live.history.length) : 'empty';
    history.contextValue = ContextValues.history satisfies ContextValue;
    // Enter or a click opens the whole history; the twistie expands the recent events.
    history.command = rowCommand('Open History', { kind: 'history' });
    nodes.push({ item: history, target: { kind: 'history' }, children: () => live.history.map(historyNode).reverse() });
    return nodes;
  }
}

function rolloutNode(m: ProjectModel): RolloutNode {
  const r = m.live.rollout;
  const split = r?.split ?? 0;
  const item = new vscode.TreeItem(`Canary ${formatPercent(split)}`, vscode.TreeItemCollapsibleState.None);
  item.id = 'rollout';
  const stepText = r?.steps && r.step !== undefined ? ` · step ${r.step + 1}/${r.steps.length}` : '';
  // The state word first (the side bar is narrow); the bar is on the load balancer rows, the figures in the tooltip.
  item.description = `${r?.endedBy === 'rollback' ? 'rolled back' : rowStatus(r?.status)}${stepText}`;
  const failed = r?.status === 'failed';
  item.iconPath = new vscode.ThemeIcon(
    failed ? 'error' : r?.status === 'paused' ? 'debug-pause' : 'arrow-swap',
    failed ? new vscode.ThemeColor('problemsErrorIcon.foreground') : undefined,
  );
  item.tooltip = r?.message !== undefined ? safeText(r.message, 1000) : `Canary traffic ${formatPercent(split)}`;
  item.contextValue = rolloutStateContextValue(rowStatus(r?.status)) satisfies ContextValue;
  addWindowFigures(item, m);
  item.command = { command: Commands.openTimeline, title: 'Open Timeline' };
  return { item, target: { kind: 'rollout' } };
}

/** The error row; with the applied configuration in use it says so (the rows below are live state). */
function configErrorNode(m: ProjectModel): RolloutNode {
  const applied = m.applied && !m.config;
  const item = new vscode.TreeItem(
    applied ? 'rollout.json has errors — showing the last applied configuration' : 'rollout.json has errors',
    vscode.TreeItemCollapsibleState.None,
  );
  item.id = 'configError';
  item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
  item.description = 'see Problems';
  item.command = { command: 'workbench.actions.view.problems', title: 'Show Problems' };
  item.tooltip = applied
    ? `Live state read with the configuration the live split was applied with (${safeText(m.live.appliedSource ?? m.applied?.source ?? '')}). Roll Back → Traffic works from it; ramps and deploys wait until rollout.json is fixed.`
    : m.live.error
      ? `Fix rollout.json (see Problems). The last applied configuration could not be read either: ${safeText(m.live.error, 500)}`
      : undefined;
  return { item };
}

/** One load balancer whose file and nginx disagree: one click runs Recover. */
function driftNode(l: LoadBalancerView): RolloutNode {
  const item = new vscode.TreeItem(`${l.name}: ${disagreement(l)}`, vscode.TreeItemCollapsibleState.None);
  item.id = `drift:${l.name}`;
  item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  item.description = 'click to Recover';
  item.tooltip = l.interrupted
    ? 'A change to this load balancer did not finish. Recover puts every load balancer back on its last confirmed split and records it in the history (a change whose process still runs is left alone).'
    : 'The file on the load balancer is not what nginx serves (a killed process can leave it so; the next reload by anyone would make it live, ungated). Recover puts the file back to what nginx serves; traffic stays as it is.';
  // Recover acts on every load balancer: no arguments (a tree command's arguments go stale at the next refresh).
  item.command = { command: Commands.recover, title: 'Recover' };
  return { item };
}

/** "2 backends · 1 down · 1.2.0": the count of down backends before the versions (rows are narrow). */
function groupDescription(count: number, down: number, versions: string[]): string {
  return `${count} backend${count === 1 ? '' : 's'}${down ? ` · ${down} down` : ''}${versions.length ? ` · ${versions.join(', ')}` : ''}`;
}

/** The LB row's tooltip: where it is and which generation nginx answered, below what the row says. */
function lbWhere(view: LoadBalancerView | undefined, url: string | undefined): string {
  const lines = [
    view?.file ? `file ${safeText(view.file, 300)}${view.host && view.host !== 'local' ? ` on ${safeText(view.host, 100)}` : ''}` : '',
    url ? `status endpoint ${url}` : '',
    view?.generation ? `generation ${safeText(view.generation, 100)}` : '',
  ].filter(Boolean);
  return lines.length ? `\n\n${lines.join('\n')}` : '';
}

function lbNode(name: string, view: LoadBalancerView | undefined, refreshing: boolean, url?: string): RolloutNode {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `lb:${name}`;
  const differs = view && disagreement(view);
  if (differs) {
    item.description = `${view.split !== undefined ? `canary ${formatPercent(view.split)} ${percentBar(view.split)} · ` : ''}${differs}`;
    item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
    item.tooltip = `nginx load balancer ${name}: ${differs}. Run Recover (context menu) to repair.`;
  } else if (view?.split !== undefined) {
    item.description = `canary ${formatPercent(view.split)} ${percentBar(view.split)}${view.changing ? ' · changing…' : ''}`;
    item.iconPath = new vscode.ThemeIcon('globe');
    item.tooltip =
      `nginx load balancer ${name}: ${formatPercent(view.split)} of requests go to the canary group.` +
      (view.changing ? ` A change by ${safeText(view.changing)} is in progress.` : '');
  } else {
    item.description = view?.error ? 'unreadable' : refreshing ? 'reading…' : 'unknown';
    item.iconPath = new vscode.ThemeIcon(
      view?.error ? 'warning' : 'globe',
      view?.error ? new vscode.ThemeColor('list.warningForeground') : undefined,
    );
    item.tooltip = view?.error !== undefined ? safeText(view.error, 1000) : undefined;
  }
  // Plain-string tooltips (shown as text): the file, status URL and generation after what the row says.
  const where = lbWhere(view, url);
  if (where) item.tooltip = `${typeof item.tooltip === 'string' ? item.tooltip : `nginx load balancer ${name}`}${where}`;
  item.contextValue = ContextValues.loadBalancer satisfies ContextValue;
  return withDetails({ item, target: { kind: 'loadBalancer', name } });
}

/** Enter or a click on the row runs Show Details on it (rowCommand says why not with arguments). */
function withDetails(node: RolloutNode): RolloutNode {
  if (node.target) node.item.command = rowCommand('Show Details', node.target);
  return node;
}

/** A starter example: neutral, never "unreachable" (it is not a server yet). */
function placeholderNode(name: string, group: Group): RolloutNode {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `backend:${name}`;
  item.description = 'placeholder — edit rollout.json';
  item.iconPath = new vscode.ThemeIcon('circle-outline');
  item.tooltip = `${name} is an example from the starter rollout.json, not a server yet.`;
  item.command = { command: Commands.openConfig, title: 'Open rollout.json' };
  item.contextValue = (group === 'stable' ? ContextValues.stableBackend : ContextValues.canaryBackend) satisfies ContextValue;
  return { item, target: { kind: 'backend', name, group } };
}

/** A probe slower than this is shown on the row (always in the tooltip). */
const SLOW_MS = 500;

function backendNode(name: string, group: Group, v: BackendView | undefined, refreshing: boolean): RolloutNode {
  const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
  item.id = `backend:${name}`;
  let tooltip = md`**${name}** (${group})\n\n`;
  if (!v) {
    item.description = refreshing ? 'probing…' : 'not probed';
    item.iconPath = new vscode.ThemeIcon('circle-outline');
  } else if (!v.healthy) {
    // The essential word only (the row is narrow); why is in the tooltip.
    item.description = 'unreachable';
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    tooltip += md`Unreachable: ${v.error ?? 'no answer'}\n\n`;
  } else if (v.drift) {
    item.description = `deployed ${safeText(v.deployed, 40)}, still serving ${safeText(v.served, 40)}`;
    item.iconPath = new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
  } else {
    // Latency only when it matters: a row that changed with every probe would rebuild the tree each refresh.
    const slow = v.latencyMs !== undefined && v.latencyMs >= SLOW_MS ? ` · slow (${Math.round(v.latencyMs)} ms)` : '';
    item.description = `${safeText(v.served ?? v.deployed ?? '?', 40)}${slow}`;
    item.iconPath = new vscode.ThemeIcon(
      slow ? 'watch' : 'pass',
      new vscode.ThemeColor(slow ? 'list.warningForeground' : 'testing.iconPassed'),
    );
  }

  if (v) {
    tooltip += md`| | |\n|---|---|\n| served | ${v.served ?? '—'} |\n| deployed | ${v.deployed ?? '—'} |\n| latency | ${v.healthy ? formatLatency(v.latencyMs) : '—'} |\n`;
  }
  item.tooltip = foreignMarkdown(tooltip);
  item.contextValue = (group === 'stable' ? ContextValues.stableBackend : ContextValues.canaryBackend) satisfies ContextValue;
  return withDetails({ item, target: { kind: 'backend', name, group } });
}

function historyNode(h: HistoryView, index: number): RolloutNode {
  // Time first, then action, result and versions; who only in the tooltip (the rows are narrow).
  const item = new vscode.TreeItem(
    safeText(`${historyTime(h.time)} ${h.action}${h.target ? ` ${h.target}` : ''}`, 80),
    vscode.TreeItemCollapsibleState.None,
  );
  const change = historyChange(h);
  item.description = safeText([historyResult(h), change].filter(Boolean).join(' · '), 120);
  item.tooltip = foreignMarkdown(
    md`**${h.action}${h.target ? ` ${h.target}` : ''}** · ${historyResult(h)}\n\n| | |\n|---|---|\n| time | ${h.time} (${formatAge(h.time)}) |\n| by | ${h.user} |\n` +
      md`| change | ${change || '—'} |\n`,
  );
  // An id (the event's place in the append-only history): its tooltip's age is updated row by row, where a
  // row without one would rebuild the whole view on every refresh (and re-issue every row's command).
  item.id = `history:${index}:${h.time}`;
  const kind = historyKind(h);
  item.iconPath = HISTORY_ICONS[kind];
  item.contextValue = ContextValues.historyEvent satisfies ContextValue;
  return { item };
}

/** Icons and colours by result (a Record: a new kind fails to compile until it has one). */
const HISTORY_ICONS: Record<HistoryKind, vscode.ThemeIcon> = {
  pass: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  fail: new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground')),
  rollback: new vscode.ThemeIcon('discard', new vscode.ThemeColor('problemsWarningIcon.foreground')),
  started: new vscode.ThemeIcon('circle-outline'),
  cancelled: new vscode.ThemeIcon('circle-slash'),
};

/** The rollout row's status word; the core's statuses plus "idle" when no rollout state exists. */
function rowStatus(status: string | undefined): RolloutRowStatus {
  switch (status) {
    case 'running':
    case 'paused':
    case 'failed':
    case 'done':
      return status;
    default:
      return 'idle';
  }
}

/**
 * The rollout row's tooltip with the latest analysis window: both sides' figures (the row itself keeps
 * only the state word, which fits the default side-bar width). Read from the history, so a run in a terminal or a teammate's shows too.
 */
function addWindowFigures(item: vscode.TreeItem, m: ProjectModel): void {
  const w = lastWindow(m.live.history);
  if (!w) return;
  const row = (name: string, s: typeof w.canary) =>
    md`| ${name} | ${s.requests} | ${s.errors} (${errorPct(s.errorRate)}) | ${p95Text(s.p95Ms)} |\n`;
  const message = typeof item.tooltip === 'string' ? item.tooltip : '';
  const where = `${historyTime(new Date(w.atMs).toISOString())}, at ${formatPercent(w.split)}${w.window ? `, window ${w.window} of the step` : ''}`;
  item.tooltip = foreignMarkdown(
    md`${message}\n\nLast window (${where}): **${w.verdict}**\n\n| | requests | errors | p95 |\n|---|---|---|---|\n` +
      row('canary', w.canary) +
      row('stable', w.stable),
  );
}
