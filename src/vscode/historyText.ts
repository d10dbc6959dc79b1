/**
 * History events in words for the History rows and the Open History document: time, action, result,
 * versions; who only in the tooltip (short form). Never raw JSON. No vscode import: unit-tested.
 * Row texts are plain text from foreign values: callers escape them for their medium.
 */
import type { HistoryEvent } from '../core/rollout/types';
import { versionOfArtifactId } from '../core/phar/artifactStore';
import { safeText } from '../core/safeText';
import { formatPercent } from './format';
import { figuresText, windowFigures } from './timelineSeries';

/** How a row looks: by its result (a rollback someone chose is its own kind). */
export type HistoryKind = 'pass' | 'fail' | 'rollback' | 'started' | 'cancelled';

export function historyKind(h: HistoryEvent): HistoryKind {
  const r = h.result ?? 'ok';
  if (r === 'started') return 'started';
  if (r === 'cancelled') return 'cancelled';
  if (r === 'inconclusive') return 'started'; // neither pass nor fail: the neutral icon
  if (!/^(ok|pass)\b/.test(r)) return 'fail';
  return /rollback/.test(h.action) ? 'rollback' : 'pass';
}

/** The result in a word or two: "ok", "passed", "failed: why", "started", "rolled back". */
export function historyResult(h: HistoryEvent): string {
  const r = h.result ?? 'ok';
  if (r === 'pass') return 'passed';
  if (r.startsWith('fail:')) return `failed:${r.slice('fail:'.length)}`;
  if (r === 'ok' && /rollback/.test(h.action)) return 'rolled back';
  return r;
}

/** "0 % → 25 %", "1.2.0 → 1.3.0", a gate's numbers; empty when the event carries neither side. */
export function historyChange(h: HistoryEvent): string {
  if (h.action === 'gate' && isRecord(h.after)) return gateText(h.after);
  const w = windowFigures(h);
  if (w) return `at ${formatPercent(w.split)}${w.window ? `, window ${w.window}` : ''}: ${figuresText(w)}`;
  if (h.before === undefined && h.after === undefined) return '';
  return `${valueText(h.before)} → ${valueText(h.after)}`;
}

/** "alice" for alice@example.com: the rows are narrow, the tooltip has the whole address. */
export function shortUser(user: string): string {
  const at = user.indexOf('@');
  return at > 0 ? user.slice(0, at) : user;
}

/** "13:04" (today) or "Dec 1 13:04", in the local time zone. */
export function historyTime(iso: string, now = new Date()): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const hm = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
  return t.toDateString() === now.toDateString() ? hm : `${t.toLocaleString('en', { month: 'short' })} ${t.getDate()} ${hm}`;
}

/** "1 event", "3 events". */
export function eventCount(n: number): string {
  return n === 1 ? '1 event' : `${n} events`;
}

/**
 * The whole history (newest first) as a plain-text table, optionally only one action. Plain text,
 * not Markdown: foreign values (users, targets, reasons) go through safeText and nothing renders.
 */
export function historyDocument(events: readonly HistoryEvent[], action?: string): string {
  const shown = [...events].reverse().filter((h) => !action || h.action === action);
  const head = [`Rollout history${action ? `: ${safeText(action, 40)} only` : ''} (${eventCount(shown.length)}, newest first)`, ''];
  if (shown.length === 0) return head.join('\n') + '\n';
  const rows = [
    ['time', 'action', 'result', 'change', 'by'],
    ...shown.map((h) => [h.time, `${h.action}${h.target ? ` ${h.target}` : ''}`, historyResult(h), historyChange(h) || '—', h.user]),
  ].map((r) => r.map((c) => safeText(c, 200).replace(/\s+/g, ' ')));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [...head, line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}

function gateText(o: Record<string, unknown>): string {
  const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)} %` : '—');
  const ms = (v: unknown) => (typeof v === 'number' ? `${Math.round(v)} ms` : '—');
  const at = typeof o.split === 'number' ? `at ${formatPercent(o.split)}: ` : '';
  const stable =
    o.stableErrorRate !== undefined || o.stableP95Ms !== undefined ? ` (stable ${pct(o.stableErrorRate)}, ${ms(o.stableP95Ms)})` : '';
  return `${at}canary errors ${pct(o.errorRate)}, p95 ${ms(o.p95Ms)}${stable}`;
}

/** One side of a change in words; objects by their known fields, never as JSON. */
function valueText(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'number') return formatPercent(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(valueText).join(', ');
  if (!isRecord(v)) return '—';
  if (typeof v.split === 'number') return formatPercent(v.split);
  if (typeof v.version === 'string') return v.version;
  if (isRecord(v.releases)) {
    const versions = [...new Set(Object.values(v.releases).map((id) => (typeof id === 'string' ? versionOfArtifactId(id) : 'none')))];
    return versions.join(', ');
  }
  for (const key of ['artifact', 'release', 'canaryArtifact']) if (typeof v[key] === 'string') return versionOfArtifactId(v[key] as string);
  if (typeof v.status === 'string') return v.status;
  // Unknown shape: its fields in words, one level deep.
  return Object.entries(v)
    .filter(([, x]) => x !== undefined && x !== null && typeof x !== 'object')
    .map(([k, x]) => `${k} ${String(x)}`)
    .join(', ');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
