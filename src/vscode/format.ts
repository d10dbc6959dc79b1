/** Small formatting helpers shared by the tree and the status bar. */

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
