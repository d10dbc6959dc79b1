/**
 * Show Details: a backend's or a load balancer's configuration and live state as a plain-text document
 * (what Enter on its row opens). No vscode import (unit-tested); every value from a file or a server is
 * passed through safeText, so control characters never reach the editor as-is.
 */
import { safeText } from '../core/safeText';
import type { BackendConfig, LoadBalancerConfig } from '../core/config/rolloutConfig';
import type { BackendView, LoadBalancerView } from './liveState';
import { disagreement } from './liveState';
import { formatPercent } from './format';
import { statusAddress } from '../core/traffic/generation';

type Row = [string, string | number | undefined];

/** "name   value" lines, the names padded to one column; rows without a value are left out. */
function table(title: string, sections: Array<[string, Row[]]>): string {
  const shown = sections.map(([heading, rows]) => [heading, rows.filter(([, v]) => v !== undefined && v !== '')] as const);
  const width = Math.max(...shown.flatMap(([, rows]) => rows.map(([k]) => k.length)));
  const out = [title, ''];
  for (const [heading, rows] of shown) {
    if (rows.length) out.push(heading, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${safeText(String(v), 500)}`), '');
  }
  return out.join('\n');
}

/** The LB's status endpoint as a URL; undefined for a bad status address (rollout.json's diagnostics report it). */
export function statusUrl(lb: Pick<LoadBalancerConfig, 'name' | 'file' | 'status'>): string | undefined {
  try {
    return `http://${statusAddress(lb)}/`;
  } catch {
    return undefined;
  }
}

function command(c: BackendConfig['restart']): string | undefined {
  if (c === undefined) return undefined;
  // An argument array as a reader types it: plain words bare, the rest quoted.
  return typeof c === 'string' ? c : c.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** A backend: where it is and how it is served (rollout.json), then what the last probe saw. */
export function backendDetails(b: BackendConfig, v: BackendView | undefined): string {
  const state = !v
    ? 'not probed yet'
    : !v.healthy
      ? `unreachable: ${v.error ?? 'no answer'}`
      : v.drift
        ? 'serving another build than deployed'
        : 'healthy';
  return table(`Backend ${safeText(b.name, 100)} (${b.group})`, [
    [
      'Live (last probe)',
      [
        ['state', state],
        ['serves', v?.served],
        ['deployed', v?.deployed],
        ['latency', v?.healthy && v.latencyMs !== undefined ? `${Math.round(v.latencyMs)} ms` : undefined],
      ],
    ],
    [
      'rollout.json',
      [
        ['upstream', b.upstream],
        ['host', b.ssh ?? 'this machine'],
        ['dir', b.dir],
        ['runtime', b.runtime ?? 'custom'],
        ['probe', b.probe],
        ['restart', command(b.restart)],
        ['weight', b.weight],
        ['drain', b.drain === false ? 'no' : `yes${b.drainSeconds !== undefined ? `, up to ${b.drainSeconds} s` : ''}`],
      ],
    ],
  ]);
}

/** A load balancer: the split nginx serves and its file's, then where it is (file, host, status endpoint). */
export function loadBalancerDetails(lb: LoadBalancerConfig, v: LoadBalancerView | undefined): string {
  return table(`Load balancer ${safeText(lb.name, 100)} (nginx)`, [
    [
      'Live',
      [
        ['nginx serves', v?.split === undefined ? (v?.error ? `unreadable: ${v.error}` : 'unknown') : `canary ${formatPercent(v.split)}`],
        ['file says', v?.fileSplit === undefined ? undefined : `canary ${formatPercent(v.fileSplit)}`],
        ['disagreement', v ? disagreement(v) : undefined],
        ['change by', v?.changing],
        ['generation', v?.generation],
      ],
    ],
    [
      'rollout.json',
      [
        ['file', lb.file],
        ['host', lb.ssh ?? 'this machine'],
        ['upstream', lb.upstream],
        ['url', lb.url],
        ['status endpoint', statusUrl(lb)],
        ['access log', lb.accessLog],
        ['test', command(lb.test)],
        ['reload', command(lb.reload)],
      ],
    ],
  ]);
}
