import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { ProjectModel } from './projectModel';
import { formatPercent } from './format';
import { figuresText, lastWindow, timelineData } from './timelineSeries';
import type { TimelineData } from './timelineSeries';

export const TIMELINE_VIEW_TYPE = 'pharRollout.timeline';

/** What the extension posts to the webview. */
export interface TimelineMessage {
  type: 'data';
  data: TimelineData;
  summary: string;
}

/** What the webview answers after each render (the tests read it). */
export interface TimelineRender {
  type: 'rendered';
  charts: number;
  /** Of the first chart's canvas, in CSS pixels. */
  width: number;
  height: number;
  points: number;
}

/** The open timeline, for scripts and tests: `rendered` resolves on the webview's first render. */
export interface TimelineHandle {
  panel: vscode.WebviewPanel;
  rendered: Promise<TimelineRender>;
}

/**
 * The timeline webview: the latest rollout's split and canary vs stable error rate and p95 as uPlot
 * charts (dist/webview, bundled by esbuild: no CDN). One panel; it follows the model (every window
 * refreshes it) and the webview re-renders itself on a theme change.
 */
export class TimelinePanel {
  private static current: TimelinePanel | undefined;

  /** Opens the timeline, or reveals the open one. */
  static show(model: ProjectModel, extensionUri: vscode.Uri): TimelineHandle {
    const existing = TimelinePanel.current;
    if (existing) {
      existing.panel.reveal();
      existing.post(true);
      return existing.handle();
    }
    const panel = vscode.window.createWebviewPanel(TIMELINE_VIEW_TYPE, 'Phar Rollout: Timeline', vscode.ViewColumn.Active, {
      enableScripts: true,
      // Only the webview bundle: nothing else of the extension or the workspace is readable.
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
    });
    TimelinePanel.current = new TimelinePanel(panel, model, extensionUri);
    return TimelinePanel.current.handle();
  }

  private readonly disposables: vscode.Disposable[] = [];
  private lastPosted = '';
  private rendered: Promise<TimelineRender>;
  private resolveRendered!: (r: TimelineRender) => void;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly model: ProjectModel,
    extensionUri: vscode.Uri,
  ) {
    this.rendered = new Promise((resolve) => (this.resolveRendered = resolve));
    panel.webview.html = timelineHtml(panel.webview, extensionUri);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => {
        if (isRecord(m) && m.type === 'ready') this.post(true);
        else if (isRecord(m) && m.type === 'rendered') this.resolveRendered(m as unknown as TimelineRender);
      }),
      model.onDidChange(() => this.post(false)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private handle(): TimelineHandle {
    return { panel: this.panel, rendered: this.rendered };
  }

  /** Posts the chart data when it changed (or always, for a webview that just loaded). */
  private post(force: boolean): void {
    const events = this.model.live.history;
    const data = timelineData(events);
    const last = lastWindow(events);
    const split = this.model.live.rollout?.split;
    const summary =
      data.windows === 0
        ? 'No analysis window yet: Start Rollout observes the canary on real traffic, and each window appears here.'
        : `${data.windows} window${data.windows === 1 ? '' : 's'}${split !== undefined ? ` · canary now ${formatPercent(split)}` : ''}${last ? ` · last window ${last.verdict}: ${figuresText(last)}` : ''}`;
    const message: TimelineMessage = { type: 'data', data, summary };
    const text = JSON.stringify(message);
    if (!force && text === this.lastPosted) return;
    this.lastPosted = text;
    void this.panel.webview.postMessage(message);
  }

  private dispose(): void {
    if (TimelinePanel.current === this) TimelinePanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** The page: the bundle and its CSS by webview URI, a strict CSP with a fresh nonce. */
function timelineHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', name)).toString();
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('timeline.css')}">
<title>Phar Rollout: Timeline</title>
</head>
<body>
<h1>Rollout timeline</h1>
<p id="summary">Loading…</p>
<section><h2>Split and error rate</h2><div id="split-chart" class="chart"></div></section>
<section><h2>p95 upstream response time</h2><div id="latency-chart" class="chart"></div></section>
<script nonce="${nonce}" src="${asset('timeline.js')}"></script>
</body>
</html>`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
