import * as vscode from 'vscode';
import type { ProjectModel } from './projectModel';
import { Commands } from './contributions';
import { formatAge, formatBytes, formatLatency, formatPercent, md } from './format';
import { foreignMarkdown } from './markdown';
import { safeText } from '../core/safeText';
import { disagreement } from './liveState';
import { packageStatusText } from './buildText';

/**
 * Two items: the local build (`$(package) app 1.2.0`) and, with rollout.json, what is live
 * (`$(versions) 1.2.0 | canary 1.3.0`, or `1.2.0 ⇄ 1.3.0 25%` during a ramp). Both open the panel.
 */
export class StatusBar implements vscode.Disposable {
  private readonly build = vscode.window.createStatusBarItem('pharRollout.build', vscode.StatusBarAlignment.Left, 10);
  private readonly live = vscode.window.createStatusBarItem('pharRollout.live', vscode.StatusBarAlignment.Left, 9);
  /** The items shown now (StatusBarItem has no visibility getter). */
  private readonly shown = new Set<vscode.StatusBarItem>();

  constructor(private readonly model: ProjectModel) {
    this.build.name = 'Phar Rollout: Build';
    this.live.name = 'Phar Rollout: Live Versions';
    this.build.command = Commands.showPanel;
    this.live.command = Commands.showPanel;
    model.onDidChange(() => this.update());
    this.update();
  }

  update(): void {
    const m = this.model;
    if (!m.root) {
      this.hide(this.build);
      this.hide(this.live);
      return;
    }
    const a = m.artifacts[0];
    // Status bar text renders $(icons): foreign parts are made plain (safeText) and their "$(" broken.
    // A project never built says so (composer.json's version is not a build).
    const composerVersion = m.composer?.version;
    this.build.text = `$(package) ${packageStatusText(
      plain(m.appName ?? ''),
      a && { version: plain(a.version) },
      composerVersion === undefined ? undefined : plain(composerVersion),
    )}`;
    this.build.tooltip = a
      ? foreignMarkdown(
          md`**${a.app} ${a.version}** built ${formatAge(a.builtAt)} by ${a.builder}\n\n${formatBytes(a.size)} · sha256 ${a.sha256.slice(0, 16)}…`,
        )
      : 'Not built yet: run Phar Rollout: Build Phar';
    this.show(this.build);

    // rollout.json with errors: live state from the last applied configuration, and the status bar says so.
    const config = m.liveConfig;
    if (!config || m.live.backends.length === 0) {
      this.hide(this.live);
      return;
    }
    const versionsOf = (group: string) =>
      [...new Set(m.live.backends.filter((b) => b.group === group).map((b) => plain(b.served ?? b.deployed ?? '?')))].join('/');
    const stable = versionsOf('stable');
    const canary = versionsOf('canary');
    const split = m.live.rollout?.split;
    const down = m.live.backends.filter((b) => !b.healthy);
    const drifting = m.live.backends.filter((b) => b.drift);
    const gateFailed = m.live.rollout?.status === 'failed';
    const paused = m.live.rollout?.status === 'paused';
    const emergency = !m.config;
    // Load balancers whose file and nginx disagree: "file 50 %, nginx serves 0 %".
    const disagreeing = m.live.loadBalancers.map((l) => ({ name: l.name, text: disagreement(l) })).filter((d) => d.text);
    this.live.text =
      (split !== undefined && split > 0 && canary
        ? `$(versions) ${stable} ⇄ ${canary} ${formatPercent(split).replace(' ', '')}`
        : `$(versions) ${stable}${canary ? ` | canary ${canary}` : ''}`) +
      (paused ? ' $(debug-pause) paused' : '') +
      (disagreeing.length
        ? ` $(warning) ${disagreeing.length === 1 ? disagreeing[0].text : `${disagreeing.length} load balancers disagree with nginx`}`
        : '') +
      (emergency ? ' $(error) rollout.json has errors' : '');
    const warn = down.length > 0 || drifting.length > 0 || gateFailed || disagreeing.length > 0 || emergency;
    this.live.backgroundColor = warn ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    // No theme icons in this tooltip: it carries servers' text (errors, versions), all escaped.
    let tooltip = emergency
      ? md`**rollout.json has errors — showing the last applied configuration** (${m.live.appliedSource ?? ''}). Roll Back → Traffic works from it; ramps and deploys wait until rollout.json is fixed.\n\n`
      : '';
    for (const d of disagreeing) tooltip += md`**${d.name}:** ${d.text ?? ''}. Run Recover to repair.\n\n`;
    tooltip += `**Live versions**${split !== undefined ? md` · canary ${formatPercent(split)}` : ''}\n\n| backend | group | served | deployed | |\n|---|---|---|---|---|\n`;
    for (const b of m.live.backends) {
      const state = !b.healthy ? md`down: ${b.error ?? 'no answer'}` : b.drift ? 'drift' : md`ok, ${formatLatency(b.latencyMs)}`;
      tooltip += md`| ${b.name} | ${b.group} | ${b.served ?? '—'} | ${b.deployed ?? '—'} | ` + `${state} |\n`;
    }
    if (paused) tooltip += '\n**Paused:** ramps are refused until you run Resume Rollout.\n';
    if (gateFailed) tooltip += md`\n**Gate failed:** ${m.live.rollout?.message ?? 'no detail'}\n`;
    this.live.tooltip = foreignMarkdown(tooltip);
    this.show(this.live);
  }

  private show(item: vscode.StatusBarItem): void {
    this.shown.add(item);
    item.show();
  }

  private hide(item: vscode.StatusBarItem): void {
    this.shown.delete(item);
    item.hide();
  }

  /** The visible items' texts (the extension-host tests read them; the DOM is the UI test's). */
  texts(): string[] {
    this.update();
    return [this.build, this.live].filter((i) => i.text && this.shown.has(i)).map((i) => i.text);
  }

  dispose(): void {
    this.build.dispose();
    this.live.dispose();
  }
}

/** Foreign text for a status bar item's text, where `$(name)` would render as an icon. */
function plain(text: string): string {
  return safeText(text, 40).replace(/\$\(/g, '$\u200b(');
}
