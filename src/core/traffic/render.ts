import type { BackendConfig, LoadBalancerConfig } from '../config/rolloutConfig';
import { InputError, emptyGroupError } from '../errors';
import { isGeneration, newGeneration, renderStatusServer, statusAddress } from './generation';

/**
 * The largest weight written for one server AND for the sum of an upstream's weights.
 * nginx parses `weight=` with ngx_atoi into an ngx_int_t (src/http/ngx_http_upstream.c,
 * ngx_http_upstream_server: any value up to NGX_MAX_INT_T_VALUE passes `nginx -t`; tried on 1.22:
 * 2^63-1 passes, 2^63 is "invalid parameter"), and smooth weighted round robin adds the weights up in
 * ngx_int_t. Keeping the *sum* within a signed 32-bit integer means no build of nginx (32-bit ngx_int_t
 * included) can overflow, whatever the number of servers.
 */
export const MAX_TOTAL_WEIGHT = 2 ** 31 - 1;

/** The split in hundredths of a percent: 0 … 10000. */
export type BasisPoints = number;

export interface RenderInput {
  lb: Pick<LoadBalancerConfig, 'name' | 'upstream'> & Partial<Pick<LoadBalancerConfig, 'file' | 'status'>>;
  backends: ReadonlyArray<Pick<BackendConfig, 'name' | 'group' | 'upstream' | 'weight'>>;
  /** Canary share in percent, 0–100 with at most two decimals. */
  split: number;
  mode: 'weighted' | 'sticky';
  /** "address" or "cookie:<name>" (sticky mode). */
  stickyKey: string;
  /** Header a tester sends with "canary" or "stable" to force a side (sticky mode). */
  forceHeader: string;
  /** Cookie that forces a side like forceHeader (sticky mode). */
  forceCookie: string;
  time: Date;
  /** The file's generation id (default: a new one from split and time). */
  generation?: string;
}

/** One `server` line of a rendered upstream. */
export interface ServerWeight {
  name: string;
  group: 'stable' | 'canary';
  address: string;
  weight: number;
  backup: boolean;
}

const UPSTREAM_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const ADDRESS = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$`);
const HEADER = /^[A-Za-z0-9-]{1,64}$/;
const COOKIE = /^[A-Za-z0-9_]{1,64}$/;
const STICKY_KEY = /^(address|cookie:[A-Za-z0-9_]{1,64})$/;

/** The marker line that `readSplit` parses back from a live file. */
export const HEADER_PREFIX = '# phar-rollout split=';

/**
 * Converts a percentage (0–100, at most two decimals) to basis points; throws InputError otherwise.
 */
export function toBasisPoints(split: number): BasisPoints {
  if (typeof split !== 'number' || !Number.isFinite(split))
    throw new InputError(`Split ${split} is not a number`, { hint: 'Give a percentage between 0 and 100.' });
  const bp = Math.round(split * 100);
  if (Math.abs(split * 100 - bp) > 1e-6)
    throw new InputError(`Split ${split} has more than two decimals`, { hint: 'Use a precision of 0.01 %.' });
  if (bp < 0 || bp > 10000) throw new InputError(`Split ${split} % is outside 0–100`, { hint: 'Give a percentage between 0 and 100.' });
  return bp;
}

/** "25", "25.5", "33.33": the shortest exact form of a split. */
export function formatSplit(split: number): string {
  const bp = toBasisPoints(split);
  const whole = Math.floor(bp / 100);
  const frac = bp % 100;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}`;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/**
 * Splits `total` into integers proportional to `weights` (largest remainder), each at least 1.
 * The parts always add up to `total` exactly. Requires total >= weights.length.
 */
export function apportion(total: bigint, weights: readonly number[]): bigint[] {
  const sum = weights.reduce((a, w) => a + BigInt(w), 0n);
  const parts = weights.map((w) => (total * BigInt(w)) / sum);
  const order = weights.map((w, i) => ({ i, r: (total * BigInt(w)) % sum }));
  order.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  let left = total - parts.reduce((a, p) => a + p, 0n);
  for (const { i } of order) {
    if (left === 0n) break;
    parts[i] += 1n;
    left -= 1n;
  }
  // nginx rejects weight=0: lift such a server to 1, paid by the largest part.
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] > 0n) continue;
    let big = 0;
    for (let j = 1; j < parts.length; j++) if (parts[j] > parts[big]) big = j;
    parts[big] -= 1n;
    parts[i] = 1n;
  }
  return parts;
}

/**
 * Integer weights for the weighted upstream, such that canaryTotal / (canaryTotal + stableTotal)
 * equals bp / 10000 exactly. Per-backend `weight` is honoured exactly where the numbers allow it
 * within MAX_TOTAL_WEIGHT, otherwise as closely as integers allow while the group totals stay exact.
 * At 0 the canary servers are left out; at 10000 the stable servers stay as `backup`.
 */
export function computeWeights(backends: RenderInput['backends'], bp: BasisPoints): ServerWeight[] {
  const stable = backends.filter((b) => b.group === 'stable');
  const canary = backends.filter((b) => b.group === 'canary');
  const line = (b: RenderInput['backends'][number], weight: bigint | number, backup = false): ServerWeight => ({
    name: b.name,
    group: b.group,
    address: b.upstream,
    weight: Number(weight),
    backup,
  });
  if (stable.length === 0) throw emptyGroupError('stable', 'A split needs at least one stable backend.');
  if (bp > 0 && canary.length === 0) throw emptyGroupError('canary', 'Add a canary backend before sending traffic to it.');
  if (bp === 0) return stable.map((b) => line(b, b.weight));
  if (bp === 10000) return [...canary.map((b) => line(b, b.weight)), ...stable.map((b) => line(b, 1, true))];

  const p = BigInt(bp);
  const q = 10000n - p;
  const wc = canary.reduce((a, b) => a + BigInt(b.weight), 0n);
  const ws = stable.reduce((a, b) => a + BigInt(b.weight), 0n);
  // Exact per backend: canary server i gets mc*w_i, stable server j gets ms*w_j, with
  // mc*wc*q = ms*ws*p (the split) and mc, ms as small as possible.
  const A = wc * q;
  const B = ws * p;
  const g = gcd(A, B);
  const mc = B / g;
  const ms = A / g;
  if (mc * wc + ms * ws <= BigInt(MAX_TOTAL_WEIGHT)) {
    return [...canary.map((b) => line(b, mc * BigInt(b.weight))), ...stable.map((b) => line(b, ms * BigInt(b.weight)))];
  }
  // Fallback (co-prime group weights and an awkward split): keep the group totals exact (that IS the
  // split) and share each total over its servers as evenly as integers allow. k scales C0:S0 so that
  // every weight unit of a backend gets about 10000 units of nginx weight, under the cap.
  const g0 = gcd(p, q);
  const c0 = p / g0;
  const s0 = q / g0;
  const kMax = BigInt(MAX_TOTAL_WEIGHT) / (c0 + s0);
  const want = (w: bigint, x: bigint) => (w * 10000n + x - 1n) / x;
  let k = want(wc, c0) > want(ws, s0) ? want(wc, c0) : want(ws, s0);
  if (k > kMax) k = kMax;
  const cTotal = k * c0;
  const sTotal = k * s0;
  if (cTotal < BigInt(canary.length) || sTotal < BigInt(stable.length)) {
    throw new InputError(
      `Cannot express a ${formatSplit(bp / 100)} % split over ${canary.length} canary and ${stable.length} stable servers`,
      { hint: 'Use fewer servers or a rounder split.' },
    );
  }
  const cParts = apportion(
    cTotal,
    canary.map((b) => b.weight),
  );
  const sParts = apportion(
    sTotal,
    stable.map((b) => b.weight),
  );
  return [...canary.map((b, i) => line(b, cParts[i])), ...stable.map((b, i) => line(b, sParts[i]))];
}

/** Throws if a value that goes into the nginx file could leave its token (defence behind the schema). */
function assertSafe(input: RenderInput): void {
  const bad = (what: string, value: unknown) => {
    throw new InputError(`Refusing to write ${what} ${JSON.stringify(value)} into an nginx file`, {
      hint: 'Names and addresses may only hold the characters rollout.json allows.',
    });
  };
  if (!UPSTREAM_NAME.test(input.lb.upstream)) bad('the upstream name', input.lb.upstream);
  for (const b of input.backends) {
    if (!BACKEND_NAME.test(b.name)) bad('the backend name', b.name);
    if (!ADDRESS.test(b.upstream)) bad('the address', b.upstream);
    if (b.group !== 'stable' && b.group !== 'canary') bad('the group', b.group);
    if (!Number.isInteger(b.weight) || b.weight < 1 || b.weight > 1000) bad('the weight', b.weight);
  }
  if (!BACKEND_NAME.test(input.lb.name)) bad('the load balancer name', input.lb.name);
  if (input.mode !== 'weighted' && input.mode !== 'sticky') bad('the mode', input.mode);
  if (input.mode === 'sticky') {
    if (!STICKY_KEY.test(input.stickyKey)) bad('the sticky key', input.stickyKey);
    if (!HEADER.test(input.forceHeader)) bad('the header', input.forceHeader);
    if (!COOKIE.test(input.forceCookie)) bad('the cookie', input.forceCookie);
  }
  if (!(input.time instanceof Date) || Number.isNaN(input.time.getTime())) bad('the time', input.time);
  if (input.generation !== undefined && !isGeneration(input.generation)) bad('the generation', input.generation);
}

// max_fails=0: nginx never marks a server down. A backend restarting for a deploy refuses connections
// for a moment; with the default (max_fails=1, fail_timeout=10s) every server of a group restarted one
// after the other gets marked, and nginx answers 502 "no live upstreams" for up to 10 s although all
// are up again (measured in the lab: 100 % 502 after a rolling deploy). A refused connection still
// moves the request to the next server (proxy_next_upstream error).
function serverLine(s: ServerWeight, withWeight = true): string {
  const params = [withWeight && !s.backup ? `weight=${s.weight}` : '', 'max_fails=0', s.backup ? 'backup' : ''].filter(Boolean).join(' ');
  return `    server ${s.address}${params ? ' ' + params : ''};  # ${s.name} (${s.group})`;
}

/**
 * Renders the whole managed include file (http context) for one load balancer.
 *
 * - weighted: `upstream <name>`; canary weight / total weight = split exactly.
 * - sticky: `upstream <name>_stable`, `upstream <name>_canary`, a `split_clients` on the key and a `map`
 *   by which the force header or cookie ("canary"/"stable") picks a side.
 *
 * Both modes define `$<name>_backend`, the upstream name to proxy to, so the user's server block reads
 * `proxy_pass http://$<name>_backend;` whatever the mode (weighted also allows `proxy_pass http://<name>;`).
 * Throws InputError on a split that is not 0–100 with two decimals or on any unsafe name.
 */
export function renderUpstream(input: RenderInput): string {
  assertSafe(input);
  const bp = toBasisPoints(input.split);
  const name = input.lb.upstream;
  const pct = (bp / 100).toFixed(2);
  const generation = input.generation ?? newGeneration(bp / 100, input.time);
  const status = renderStatusServer(statusAddress({ name: input.lb.name, file: input.lb.file ?? '', status: input.lb.status }), {
    generation,
    split: bp / 100,
    lb: input.lb.name,
    mode: input.mode,
  });
  const head = [
    `${HEADER_PREFIX}${pct} mode=${input.mode} time=${input.time.toISOString()} generation=${generation}`,
    `# Managed by Phar Rollout for load balancer "${input.lb.name}": ${formatSplit(bp / 100)} % of requests to the canary group.`,
    '# Written whole on every split change; edits here are overwritten. Servers are never marked down',
    '# (max_fails=0) so that restarts during a deploy lose no request. Proxy with:',
    `#     proxy_pass http://$${name}_backend;`,
    '',
  ];
  if (input.mode === 'weighted') {
    const servers = computeWeights(input.backends, bp);
    return [
      ...head,
      `upstream ${name} {`,
      ...servers.map((s) => serverLine(s)),
      '}',
      '',
      `map $host $${name}_backend {`,
      `    default ${name};`,
      '}',
      '',
      ...status,
      '',
    ].join('\n');
  }
  return [...head, ...renderSticky(input, bp), '', ...status, ''].join('\n');
}

function renderSticky(input: RenderInput, bp: BasisPoints): string[] {
  const name = input.lb.upstream;
  const stable = input.backends.filter((b) => b.group === 'stable');
  const canary = input.backends.filter((b) => b.group === 'canary');
  if (stable.length === 0) throw emptyGroupError('stable', 'A split needs at least one stable backend.');
  if (bp > 0 && canary.length === 0) throw emptyGroupError('canary', 'Add a canary backend before sending traffic to it.');
  const toServer = (b: (typeof stable)[number]): ServerWeight => ({
    name: b.name,
    group: b.group,
    address: b.upstream,
    weight: b.weight,
    backup: false,
  });
  const out: string[] = [];
  out.push(`upstream ${name}_stable {`, ...stable.map((b) => serverLine(toServer(b))), '}', '');
  if (canary.length > 0) out.push(`upstream ${name}_canary {`, ...canary.map((b) => serverLine(toServer(b))), '}', '');

  let key: string;
  if (input.stickyKey === 'address') key = '$remote_addr';
  else {
    // A client without the cookie yet is kept on one side by its address until it has one.
    const cookie = input.stickyKey.slice('cookie:'.length);
    out.push(`map $cookie_${cookie} $${name}_sticky_key {`, '    "" $remote_addr;', `    default $cookie_${cookie};`, '}', '');
    key = `$${name}_sticky_key`;
  }
  // split_clients takes percentages with two decimals; the canary share comes first so that a client in
  // the canary at a lower split stays there as the split grows.
  const share = (bp / 100).toFixed(2).replace(/\.?0+$/, '');
  const parts = bp === 0 ? ['    * stable;'] : bp === 10000 ? ['    * canary;'] : [`    ${share}% canary;`, '    * stable;'];
  out.push(`split_clients "${key}" $${name}_split {`, ...parts, '}', '');
  const header = input.forceHeader.toLowerCase().replace(/-/g, '_');
  out.push(
    `map $cookie_${input.forceCookie} $${name}_cookie_side {`,
    `    default $${name}_split;`,
    '    canary canary;',
    '    stable stable;',
    '}',
    '',
    `map $http_${header} $${name}_side {`,
    `    default $${name}_cookie_side;`,
    '    canary canary;',
    '    stable stable;',
    '}',
    '',
    `map $${name}_side $${name}_backend {`,
    `    default ${name}_stable;`,
    ...(canary.length > 0 ? [`    canary ${name}_canary;`] : []),
    '}',
  );
  return out;
}

/** What the header line of a managed file says. */
export interface FileHeader {
  split: number;
  mode: 'weighted' | 'sticky';
  time: string;
  /** Absent in files written before generations existed. */
  generation?: string;
}

/** Parses the header line of a managed file; undefined when the file is not one of ours. */
export function parseHeader(text: string): FileHeader | undefined {
  const first = text.split('\n', 1)[0] ?? '';
  const m = /^# phar-rollout split=(\d{1,3}\.\d{2}) mode=(weighted|sticky) time=(\S+?)(?: generation=(\S+))?$/.exec(first.trimEnd());
  if (!m) return undefined;
  const split = Number(m[1]);
  if (!(split >= 0 && split <= 100)) return undefined;
  if (m[4] !== undefined && !isGeneration(m[4])) return undefined;
  return { split, mode: m[2] as FileHeader['mode'], time: m[3], ...(m[4] ? { generation: m[4] } : {}) };
}

/** Parses the `server` lines of every upstream in a rendered file (tests, UI previews). */
export function parseUpstreams(text: string): Map<string, ServerWeight[]> {
  const out = new Map<string, ServerWeight[]>();
  let current: ServerWeight[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const up = /^upstream\s+([A-Za-z0-9_]+)\s*\{$/.exec(line);
    if (up) {
      current = [];
      out.set(up[1], current);
      continue;
    }
    if (line === '}') {
      current = undefined;
      continue;
    }
    if (!current) continue;
    const m = /^server\s+([^\s;]+)((?:\s+[a-z_]+(?:=[^\s;]+)?)*)\s*;$/.exec(line);
    if (!m) continue;
    const params = m[2].trim().split(/\s+/).filter(Boolean);
    const weight = params.find((x) => x.startsWith('weight='));
    const comment = /#\s*(\S+)\s+\((stable|canary)\)/.exec(raw);
    current.push({
      address: m[1],
      weight: weight ? Number(weight.slice(7)) : 1,
      backup: params.includes('backup'),
      name: comment?.[1] ?? m[1],
      group: (comment?.[2] as ServerWeight['group']) ?? 'stable',
    });
  }
  return out;
}
