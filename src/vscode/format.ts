/** Small formatting helpers shared by the tree and the status bar (no vscode import: unit-tested). */
import { markdownText } from '../core/safeText';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatAge(iso: string | Date | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  if (s < 90 * 60) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function formatPercent(p: number): string {
  return `${Number.isInteger(p) ? p : p.toFixed(2).replace(/0+$/, '')} %`;
}

/** A ten-cell bar for a percentage: ▰▰▱▱▱▱▱▱▱▱. */
export function percentBar(p: number): string {
  const filled = Math.round(Math.min(100, Math.max(0, p)) / 10);
  return '▰'.repeat(filled) + '▱'.repeat(10 - filled);
}

/**
 * Markdown from a template whose interpolated values are foreign: each is escaped with markdownText,
 * so only the literal parts are markdown (`md\`**${version}**\``). For a MarkdownString that is
 * neither trusted nor HTML- or icon-enabled (foreignMarkdown).
 */
export function md(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((out, part, i) => out + part + (i < values.length ? markdownText(values[i]) : ''), '');
}

/**
 * A latency as the tooltips show it, in bands: a tooltip change refreshes its row, and a refresh
 * while a context menu is open on the tree can close it, so jitter within a band (loopback's 2 ms
 * vs 14 ms) changes nothing while a real change (20 ms to 300 ms) shows.
 */
export function formatLatency(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  for (const band of [10, 50, 100, 250, 500]) if (ms < band) return `under ${band} ms`;
  if (ms < 1000) return 'under 1 s';
  return `about ${Math.round(ms / 1000)} s`;
}

/** "25", "25%", "25 %", "12.5" → the number; anything else (or above 100) → undefined. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,2})?)\s*%?$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  return n <= 100 ? n : undefined;
}
