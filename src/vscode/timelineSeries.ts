/**
 * The rollout over time from its history: the split and each analysis window's canary and stable
 * figures, as the timeline chart plots them and the rollout row shows them, and the text of the
 * Start Rollout progress. Pure, no vscode import: unit-tested, and the webview imports its types.
 */
import type { PlanStep } from '../core/analysis/plan';
import type { HistoryEvent } from '../core/rollout/types';
import { formatPercent } from './format';

/** One side of an analysis window as the history records it (run.ts `brief`). */
export interface SideFigures {
  requests: number;
  errors: number;
  /** 0–1. */
  errorRate: number;
  p95Ms?: number;
}

/** One analysis history row, read back. */
export interface WindowFigures {
  /** When the window was judged (ms since epoch). */
  atMs: number;
  split: number;
  /** 1-based within its step. */
  window?: number;
  canary: SideFigures;
  stable: SideFigures;
  /** pass, fail or inconclusive. */
  verdict: string;
}

/**
 * Column data for uPlot (x first, seconds since epoch), aligned: a window's columns are null where
 * a row only changed the split; every row has its split (drawn as a stepped line).
 */
export interface TimelineData {
  x: number[];
  split: Array<number | null>;
  /** Percent (0–100), not a fraction: the axis reads "%". */
  canaryErrorPct: Array<number | null>;
  stableErrorPct: Array<number | null>;
  canaryP95Ms: Array<number | null>;
  stableP95Ms: Array<number | null>;
  /** Per x: the window's verdict, or undefined on a split change. */
  verdicts: Array<string | undefined>;
  windows: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function side(v: unknown): SideFigures | undefined {
  if (!isRecord(v)) return undefined;
  const requests = num(v.requests);
  const errors = num(v.errors);
  const errorRate = num(v.errorRate);
  if (requests === undefined || errors === undefined || errorRate === undefined) return undefined;
  return { requests, errors, errorRate, p95Ms: num(v.p95Ms) };
}

/** An `analysis` history row's figures, or undefined for any other row (or a row of an unknown shape). */
export function windowFigures(h: HistoryEvent): WindowFigures | undefined {
  if (h.action !== 'analysis' || !isRecord(h.after)) return undefined;
  const atMs = Date.parse(h.time);
  const split = num(h.after.split);
  const canary = side(h.after.canary);
  const stable = side(h.after.stable);
  if (!Number.isFinite(atMs) || split === undefined || !canary || !stable) return undefined;
  const verdict = h.result.startsWith('fail') ? 'fail' : h.result;
  return { atMs, split, window: num(h.after.window), canary, stable, verdict };
}

/** The split a finished split change left (ramp, rollback, promote, pause …), or undefined. */
function splitAfter(h: HistoryEvent): number | undefined {
  if (h.action === 'analysis' || !/^ok\b/.test(h.result) || !isRecord(h.after)) return undefined;
  return num(h.after.split);
}

function splitBefore(h: HistoryEvent): number | undefined {
  return isRecord(h.before) ? (num(h.before.split) ?? (h.before.split === null ? 0 : undefined)) : undefined;
}

/**
 * The events of the latest rollout: from the last split change that left 0 % (a rollout starts
 * there) to the end, so a rolled-back rollout still shows its way back to 0 %.
 */
export function latestRollout(events: readonly HistoryEvent[]): HistoryEvent[] {
  for (let i = events.length - 1; i >= 0; i--) {
    const after = splitAfter(events[i]);
    // Only a change that says it came from 0 % (a run picking up a step records no "before").
    if (after !== undefined && after > 0 && splitBefore(events[i]) === 0) return events.slice(i);
  }
  return [...events];
}

/** The chart's columns for the latest rollout (history oldest first). */
export function timelineData(events: readonly HistoryEvent[]): TimelineData {
  const data: TimelineData = {
    x: [],
    split: [],
    canaryErrorPct: [],
    stableErrorPct: [],
    canaryP95Ms: [],
    stableP95Ms: [],
    verdicts: [],
    windows: 0,
  };
  let lastX = -Infinity;
  for (const h of latestRollout(events)) {
    const w = windowFigures(h);
    const changed = w ? undefined : splitAfter(h);
    if (!w && changed === undefined) continue;
    // uPlot needs increasing x: events written in the same millisecond get a hair apart.
    const t = Math.max(Date.parse(h.time) / 1000, lastX + 0.001);
    if (!Number.isFinite(t)) continue;
    lastX = t;
    data.x.push(t);
    if (w) data.windows++;
    data.split.push(w ? w.split : changed!);
    data.canaryErrorPct.push(w ? w.canary.errorRate * 100 : null);
    data.stableErrorPct.push(w ? w.stable.errorRate * 100 : null);
    data.canaryP95Ms.push(w?.canary.p95Ms ?? null);
    data.stableP95Ms.push(w?.stable.p95Ms ?? null);
    data.verdicts.push(w?.verdict);
  }
  return data;
}

/** The newest analysis window of the latest rollout, or undefined before the first one. */
export function lastWindow(events: readonly HistoryEvent[]): WindowFigures | undefined {
  const rollout = latestRollout(events);
  for (let i = rollout.length - 1; i >= 0; i--) {
    const w = windowFigures(rollout[i]);
    if (w) return w;
  }
  return undefined;
}

/** "0.8 %": an error rate (0–1) with one decimal. */
export function errorPct(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

/** "15 ms", or "—" without requests. */
export function p95Text(ms: number | undefined): string {
  return ms === undefined ? '—' : `${Math.round(ms)} ms`;
}

/** "canary 120 req 0.8 % p95 15 ms · stable 360 req 0.1 % p95 12 ms". */
export function figuresText(w: Pick<WindowFigures, 'canary' | 'stable'>): string {
  const one = (name: string, s: SideFigures) => `${name} ${s.requests} req ${errorPct(s.errorRate)} p95 ${p95Text(s.p95Ms)}`;
  return `${one('canary', w.canary)} · ${one('stable', w.stable)}`;
}

/** "1m 05s", "5m", "42 s", "0 s", "1h 30m". */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${m}m`;
  return m % 60 ? `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m` : `${m / 60}h`;
}

/** Where a run stands, for the progress notification. */
export interface RunProgress {
  /** 1-based among the plan's weight steps. */
  step: number;
  steps: number;
  weight: number;
  /** Time left in the step's observation; negative once it is extended (inconclusive, analysis.onInconclusive extend). */
  leftMs?: number;
  last?: Pick<WindowFigures, 'canary' | 'stable' | 'verdict'>;
}

/** "Step 2/4 · 25 % · 1m 20s left · canary 120 req 0.8 % p95 15 ms · stable …". */
export function progressText(p: RunProgress): string {
  const head = `Step ${p.step}/${p.steps} · ${formatPercent(p.weight)}`;
  const left = p.leftMs === undefined ? ' · going live' : p.leftMs > 0 ? ` · ${durationText(p.leftMs)} left` : ' · extended';
  const figures = p.last ? ` · ${figuresText(p.last)}${p.last.verdict === 'pass' ? '' : ` (${p.last.verdict})`}` : ' · first window…';
  return `${head}${left}${p.leftMs === undefined ? '' : figures}`;
}

/** "10 % for 5m → 25 % for 5m → pause → 100 % for 1m 30s". */
export function planText(plan: readonly PlanStep[]): string {
  return plan.map((p) => (p.kind === 'pause' ? 'pause' : `${formatPercent(p.weight)} for ${durationText(p.observeMs)}`)).join(' → ');
}

/** Where a step of the report is in the plan: 1-based among the weight steps, searched from `from`. */
export function planPosition(plan: readonly PlanStep[], weight: number, from: number): { index: number; step: number; steps: number } {
  const weights = plan.flatMap((p, i) => (p.kind === 'weight' ? [{ i, weight: p.weight }] : []));
  const k = weights.findIndex((w) => w.i >= from && w.weight === weight);
  const at = k >= 0 ? k : weights.findIndex((w) => w.weight === weight);
  return { index: at >= 0 ? weights[at].i : from, step: at + 1, steps: weights.length };
}
