/**
 * Texts of a traffic change under review and of where a build is live. No vscode import (unit-tested):
 * the commands pass in what the live state knows.
 */
import { safeText } from '../core/safeText';
import { formatAge, formatPercent } from './format';

/** A backend and the version it has deployed, as the live state knows it. */
export interface BackendVersion {
  name: string;
  group: 'stable' | 'canary';
  deployed?: string;
}

/** "canary-1 (1.3.0)", "stable-1, stable-2 (1.2.0)", "web-1 (1.2.0), web-2 (nothing deployed)". */
function withVersions(backends: readonly BackendVersion[]): string {
  const byVersion = new Map<string, string[]>();
  for (const b of backends) {
    const v = b.deployed ? safeText(b.deployed, 40) : 'nothing deployed';
    byVersion.set(v, [...(byVersion.get(v) ?? []), safeText(b.name, 60)]);
  }
  return [...byVersion].map(([v, names]) => `${names.join(', ')} (${v})`).join(', ');
}

/**
 * Who gets the requests at `split`: "25 % to canary-1 (1.3.0); 75 % to stable-1, stable-2 (1.2.0)".
 * At 100 % the stable backends stay as nginx backups, and the line says so.
 */
export function splitSummary(split: number, backends: readonly BackendVersion[]): string {
  const canary = backends.filter((b) => b.group === 'canary');
  const stable = backends.filter((b) => b.group === 'stable');
  const parts: string[] = [];
  if (split > 0) parts.push(`${formatPercent(split)} to ${canary.length ? withVersions(canary) : 'the canary group'}`);
  if (split < 100) parts.push(`${formatPercent(100 - split)} to ${stable.length ? withVersions(stable) : 'the stable group'}`);
  else if (stable.length) parts.push(`${withVersions(stable)} as backup`);
  return parts.join('; ');
}

/** A split change under review: what moves, on which load balancers. */
export interface SplitChange {
  /** "Ramp" or "Roll back (traffic)". */
  action: string;
  before?: number;
  after: number;
  loadBalancers: readonly string[];
}

/** One line for the review's notification: "Ramp: canary 0 % → 25 % on edge: 25 % to canary-1 (1.3.0); 75 % to …". */
export function reviewInfo(change: SplitChange, backends: readonly BackendVersion[]): string {
  const lbs = change.loadBalancers.map((l) => safeText(l, 60)).join(', ');
  return `${change.action}: canary ${formatPercent(change.before ?? 0)} → ${formatPercent(change.after)} on ${lbs}: ${splitSummary(change.after, backends)}`;
}

/**
 * The comment lines at the top of both sides of the review diff (the same on both, so the diff
 * shows only the nginx change): what changes, for whom, and what Apply and Cancel do.
 */
export function reviewHeader(change: SplitChange, backends: readonly BackendVersion[]): string {
  const n = change.loadBalancers.length;
  // Short lines: each side of the diff gets half the editor's width.
  return [
    `# Review — ${change.action}: canary ${formatPercent(change.before ?? 0)} → ${formatPercent(change.after)}`,
    `# on ${n} load balancer${n === 1 ? '' : 's'}: ${change.loadBalancers.map((l) => safeText(l, 60)).join(', ')}`,
    '# After Apply:',
    ...splitSummary(change.after, backends)
      .split('; ')
      .map((part) => `#   ${part}`),
    '# Apply Change (editor title, top right): nginx -t',
    '#   on every load balancer, then all reload; any',
    '#   failure restores every previous file.',
    '# Cancel Change or closing this tab: nothing changes.',
    '',
    '',
  ].join('\n');
}

/** A backend and the build (artifact id) its `current` release is. */
export interface BackendArtifact {
  name: string;
  group: 'stable' | 'canary';
  deployedArtifact?: string;
}

/**
 * Where build `artifactId` is live: "canary 25 %", "stable", "stable · canary 0 %", or the backends'
 * names when only part of a group has it ("stable-1"); undefined when no backend has it.
 */
export function whereLive(artifactId: string, backends: readonly BackendArtifact[], split?: number): string | undefined {
  const parts: string[] = [];
  for (const group of ['stable', 'canary'] as const) {
    const members = backends.filter((b) => b.group === group);
    const having = members.filter((b) => b.deployedArtifact === artifactId);
    if (having.length === 0) continue;
    const label = group === 'canary' && split !== undefined ? `canary ${formatPercent(split)}` : group;
    parts.push(having.length === members.length ? label : `${having.map((b) => safeText(b.name, 60)).join(', ')} (${label})`);
  }
  return parts.length ? parts.join(' · ') : undefined;
}

/** A git ref as the rebuild picker shows it. */
export interface RefItem {
  label: string;
  description: string;
  detail: string;
}

/** "$(tag) v1.2.0" · "abc1234 · 2026-11-30 · 2 d ago" · subject (foreign text made safe). */
export function refItem(
  ref: { kind: 'tag' | 'branch'; name: string; commit: string; date?: string; subject: string },
  now = Date.now(),
): RefItem {
  const when = ref.date ? `${ref.date.slice(0, 10)} · ${formatAge(ref.date, now)}` : 'no date';
  return {
    label: `$(${ref.kind === 'tag' ? 'tag' : 'git-branch'}) ${safeText(ref.name, 80)}`,
    description: `${safeText(ref.commit, 12)} · ${when}`,
    detail: safeText(ref.subject, 120) || '(no subject)',
  };
}

/** "canary-1: 1.3.0 → 1.2.0" per backend of a release rollback; a backend without a previous release says so. */
export function releaseTargetsText(
  targets: ReadonlyArray<{ backend: string; current?: { version: string }; previous?: { version: string }; problem?: string }>,
): string {
  return targets
    .map((t) => {
      const from = t.current ? safeText(t.current.version, 40) : 'nothing';
      return t.previous
        ? `${safeText(t.backend, 60)}: ${from} → ${safeText(t.previous.version, 40)}`
        : `${safeText(t.backend, 60)}: ${safeText(t.problem ?? 'no previous release', 120)}`;
    })
    .join('\n');
}
