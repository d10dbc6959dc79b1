/// <reference lib="dom" />
/**
 * The timeline webview (bundled by esbuild into dist/webview/timeline.js, no CDN): two uPlot charts,
 * split and error rate, and p95, canary against stable, from the data the extension posts. Colours
 * are the theme's (--vscode-* variables), read again and the charts re-made when the theme changes.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './timeline.css';
import type { TimelineMessage, TimelineRender } from '../vscode/timelinePanel';
import type { TimelineData } from '../vscode/timelineSeries';

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscodeApi = acquireVsCodeApi();
const HEIGHT = 220;
let current: TimelineData | undefined;
let charts: uPlot[] = [];
let renders = 0;

/** A theme colour, with a fallback for a theme that does not define it. */
function themeColor(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

interface Palette {
  canary: string;
  stable: string;
  split: string;
  fail: string;
  text: string;
  grid: string;
  font: string;
}

function palette(): Palette {
  const family = themeColor('--vscode-font-family', 'sans-serif');
  const size = themeColor('--vscode-font-size', '12px');
  return {
    canary: themeColor('--vscode-charts-orange', '#d18616'),
    stable: themeColor('--vscode-charts-blue', '#3794ff'),
    split: themeColor('--vscode-charts-purple', '#b180d7'),
    fail: themeColor('--vscode-charts-red', '#f14c4c'),
    text: themeColor('--vscode-descriptionForeground', '#888888'),
    grid: themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)'),
    font: `${size} ${family}`,
  };
}

/** A theme colour at 20 % for an area fill (theme colours are #rrggbb; anything else gets a neutral fill). */
function translucent(color: string): string {
  return /^#[0-9a-f]{6}$/i.test(color) ? `${color}33` : 'rgba(128,128,128,0.2)';
}

function axis(p: Palette, extra: uPlot.Axis = {}): uPlot.Axis {
  // Room for "100 %" and "1000 ms" in the editor's font (uPlot's default cuts them).
  return {
    size: 64,
    stroke: p.text,
    font: p.font,
    labelFont: p.font,
    grid: { stroke: p.grid, width: 1 },
    ticks: { stroke: p.grid, width: 1 },
    ...extra,
  };
}

/** Time labels need room: sub-second ticks (":17.250") would run into each other at uPlot's default spacing. */
const xAxis: uPlot.Axis = { space: 90 };

const pct = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${v.toFixed(v < 10 ? 1 : 0)} %`);
const ms = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);

/** Only the window points, no line between split changes: gaps are spanned. */
function line(label: string, stroke: string, scale: string, value: uPlot.Series['value'], dash?: number[]): uPlot.Series {
  return { label, stroke, scale, value, width: 2, dash, spanGaps: true, points: { show: true, size: 6, fill: stroke } };
}

function width(el: HTMLElement): number {
  return Math.max(320, Math.floor(el.clientWidth || document.body.clientWidth - 32));
}

/** Makes both charts from scratch (theme colours are baked into uPlot's options). */
function render(): void {
  for (const c of charts) c.destroy();
  charts = [];
  const data = current;
  if (!data) return;
  const p = palette();
  const splitEl = document.getElementById('split-chart')!;
  const latencyEl = document.getElementById('latency-chart')!;
  const failed = data.canaryErrorPct.map((v, i) => (data.verdicts[i] === 'fail' ? v : null));
  const cursor: uPlot.Cursor = { sync: { key: 'timeline' } };
  charts.push(
    new uPlot(
      {
        width: width(splitEl),
        height: HEIGHT,
        cursor,
        scales: { x: { time: true }, split: { range: [0, 100] }, err: { range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] } },
        axes: [
          axis(p, xAxis),
          axis(p, { scale: 'split', values: (_u, vs) => vs.map((v) => `${v} %`) }),
          axis(p, { scale: 'err', side: 1, grid: { show: false }, values: (_u, vs) => vs.map((v) => `${v} %`) }),
        ],
        series: [
          {},
          {
            label: 'split (canary share)',
            stroke: p.split,
            fill: translucent(p.split),
            scale: 'split',
            width: 2,
            value: pct,
            paths: uPlot.paths.stepped!({ align: 1 }),
            spanGaps: true,
            points: { show: false },
          },
          line('canary errors', p.canary, 'err', pct),
          line('stable errors', p.stable, 'err', pct, [6, 4]),
          {
            label: 'failed window',
            stroke: p.fail,
            scale: 'err',
            value: pct,
            paths: () => null,
            points: { show: true, size: 11, fill: p.fail, stroke: p.fail },
          },
        ],
      },
      [data.x, data.split, data.canaryErrorPct, data.stableErrorPct, failed] as uPlot.AlignedData,
      splitEl,
    ),
    new uPlot(
      {
        width: width(latencyEl),
        height: HEIGHT,
        cursor,
        scales: { x: { time: true }, ms: { range: (_u, _min, max) => [0, Math.max(10, max * 1.2)] } },
        axes: [axis(p, xAxis), axis(p, { scale: 'ms', values: (_u, vs) => vs.map((v) => `${v} ms`) })],
        series: [{}, line('canary p95', p.canary, 'ms', ms), line('stable p95', p.stable, 'ms', ms, [6, 4])],
      },
      [data.x, data.canaryP95Ms, data.stableP95Ms] as uPlot.AlignedData,
      latencyEl,
    ),
  );
  // What was drawn with, for the UI test (a theme change must show up here).
  document.body.dataset.renders = String(++renders);
  document.body.dataset.textColor = p.text;
  const canvas = charts[0].ctx.canvas;
  const rect = canvas.getBoundingClientRect();
  const report: TimelineRender = {
    type: 'rendered',
    charts: charts.length,
    width: Math.round(rect.width),
    height: Math.round(rect.height),
    points: data.x.length,
  };
  vscodeApi.postMessage(report);
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = event.data as TimelineMessage;
  if (m?.type !== 'data') return;
  current = m.data;
  document.getElementById('summary')!.textContent = m.summary; // text, never markup
  render();
});

// A theme change rewrites the body's class and the variables on <html>: re-read the colours.
const themeObserver = new MutationObserver(() => render());
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });

let resizeTimer: number | undefined;
new ResizeObserver(() => {
  window.clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => {
    for (const c of charts) c.setSize({ width: width(c.root.parentElement!), height: HEIGHT });
  }, 100);
}).observe(document.body);

vscodeApi.postMessage({ type: 'ready' });
