import type { LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { OperationError } from '../errors';
import type { Transport } from '../exec/transport';
import { safeText } from '../safeText';
import { nginxPath, reloadConfirmed } from './apply';
import type { LbSplit } from './apply';
import { parseStatusAnswer, statusAddress } from './generation';
import type { StatusAnswer } from './generation';
import { INSPECT_SCRIPT, PUT_SCRIPT, READ_SCRIPT, markers, runScript } from './lbScripts';
import { formatSplit, parseHeader } from './render';
import type { FileHeader } from './render';

/** An intent as written beside an LB file (see applyFiles). */
export interface Intent {
  version: 1;
  op: string;
  owner: string;
  pid: number;
  pidStart?: string;
  host: string;
  time: string;
  lb: string;
  file: string;
  /** The generation and split being applied (null: not a managed file). */
  generation: string | null;
  split: number | null;
  lbs: Array<{ name: string; ssh?: string; file: string }>;
  /** Added on the LB host from the live file at the moment of writing. */
  beforeGeneration: string;
  beforeSplit: string;
  hadFile: 'had' | 'none';
}

/** Everything one call learns about an LB: its files, sidecars and what nginx answers. */
export interface LbInspection {
  file?: FileHeader;
  prev?: FileHeader;
  confirmed?: FileHeader;
  /** Raw header line of the file (for "not ours" messages). */
  fileLine?: string;
  pidFile?: string;
  errorLog?: string;
  /** An unfinished intent and its age in seconds by the LB host's clock. */
  intent?: { ageS: number; value: Intent };
  intentDone?: { ageS: number; value: Intent };
  status?: StatusAnswer;
  statusError?: string;
}

function parseIntent(v: string | undefined): { ageS: number; value: Intent } | undefined {
  if (v === undefined) return undefined;
  const sp = v.indexOf(' ');
  try {
    const value = JSON.parse(v.slice(sp + 1)) as Intent;
    if (typeof value?.op !== 'string') return undefined;
    return { ageS: Number(v.slice(0, sp)) || 0, value };
  } catch {
    return undefined;
  }
}

/** Reads an LB's files, sidecars and status endpoint in one transport call. */
export async function inspectLb(lb: LoadBalancerConfig, transport: Transport, signal?: AbortSignal): Promise<LbInspection> {
  const r = await runScript(transport, INSPECT_SCRIPT, [lb.file, statusAddress(lb)], { signal, timeoutMs: 30000 });
  if (r.code !== 0)
    throw new OperationError(`load balancer "${lb.name}": reading its state failed: ${safeText(r.stderr.trim() || `exit ${r.code}`)}`, {
      step: 'read',
      lb: lb.name,
    });
  const { marks } = markers(r.stdout);
  const head = (k: string) => {
    const v = marks.get(k);
    return v === undefined ? undefined : parseHeader(v);
  };
  const body = marks.get('status') ?? '';
  const status = parseStatusAnswer(body);
  return {
    file: head('head'),
    fileLine: marks.get('head'),
    prev: head('head.prev'),
    confirmed: head('head.confirmed'),
    pidFile: nginxPath(marks.get('pid'), lb.test),
    errorLog: nginxPath(marks.get('errlog'), lb.test),
    intent: parseIntent(marks.get('intent')),
    intentDone: parseIntent(marks.get('intent.done')),
    status,
    statusError: status
      ? undefined
      : body === '@nohttp'
        ? 'neither curl nor wget is installed on the load balancer host'
        : body
          ? `the status endpoint ${statusAddress(lb)} answered something else: ${safeText(body.slice(0, 200))}`
          : `no answer from the status endpoint ${statusAddress(lb)}`,
  };
}

/** What one LB really serves, next to what its file says. */
export interface LiveSplit extends LbSplit {
  /** What nginx answers on the status endpoint: the truth for users. */
  live?: { generation: string; split: number };
  /** Why `live` is unknown. */
  liveError?: string;
  /** Set when the file and nginx disagree: "file 50 %, nginx serves 0 %". */
  drift?: string;
  /** An unfinished change (its owner may be running, or gone: see reconcile). */
  interrupted?: Intent;
  /** Age in seconds of `interrupted`, by the LB host's clock (a change in progress is young). */
  interruptedAgeS?: number;
}

/**
 * What `lb` serves (generation and split answered by its status endpoint) and whether its file says
 * the same: one transport call. `split`/`generation` are the file's, as readSplit gives them.
 */
export async function readLive(lb: LoadBalancerConfig, transport: Transport, options: { signal?: AbortSignal } = {}): Promise<LiveSplit> {
  const base = { name: lb.name, host: transport.host, file: lb.file };
  let i: LbInspection;
  try {
    i = await inspectLb(lb, transport, options.signal);
  } catch (err) {
    return { ...base, error: (err as Error).message, liveError: (err as Error).message };
  }
  const out: LiveSplit = {
    ...base,
    ...(i.file ?? {}),
    ...(i.file
      ? {}
      : {
          error:
            i.fileLine === undefined
              ? `${lb.file} does not exist yet`
              : `${lb.file} is not a Phar Rollout file (no "# phar-rollout split=" header)`,
        }),
    ...(i.status ? { live: { generation: i.status.generation, split: i.status.split } } : { liveError: i.statusError }),
    ...(i.intent ? { interrupted: i.intent.value, interruptedAgeS: i.intent.ageS } : {}),
  };
  if (i.status && i.file && i.status.generation !== i.file.generation)
    out.drift = `file ${formatSplit(i.file.split)} %, nginx serves ${formatSplit(i.status.split)} %`;
  else if (!i.status && i.file?.generation)
    out.drift = `file ${formatSplit(i.file.split)} %, nginx serves an unknown split (${i.statusError})`;
  return out;
}

/** readLive on every LB, in parallel. */
export function readLives(
  config: Pick<RolloutConfig, 'loadBalancers'>,
  transportOf: (lb: LoadBalancerConfig) => Transport,
  options: { signal?: AbortSignal } = {},
): Promise<LiveSplit[]> {
  return Promise.all(config.loadBalancers.map((lb) => readLive(lb, transportOf(lb), options)));
}

/** The configuration a live split was applied with, kept on the LB as `<file>.applied.json`. */
export interface AppliedConfig {
  version: 1;
  generation: string | null;
  split: number | null;
  time: string;
  lb: string;
  /** The parsed configuration used (a RolloutConfig when applySplit wrote it). */
  config?: RolloutConfig;
  /** rollout.json's text at that moment. */
  rolloutJson?: string;
  /** The managed file as rendered. */
  file: string;
}

/**
 * Reads back the configuration `lb`'s live split was applied with (undefined: none kept yet). The
 * emergency path: with rollout.json broken, `config` of this still describes backends and LBs, so
 * status and a traffic rollback can run from it.
 */
export async function readAppliedConfig(
  lb: Pick<LoadBalancerConfig, 'name' | 'file'>,
  transport: Transport,
  options: { signal?: AbortSignal } = {},
): Promise<AppliedConfig | undefined> {
  const r = await runScript(transport, READ_SCRIPT, [`${lb.file}.applied.json`], { signal: options.signal, timeoutMs: 30000 });
  if (r.code === 3) return undefined;
  if (r.code !== 0)
    throw new OperationError(`load balancer "${lb.name}": reading ${lb.file}.applied.json failed: ${safeText(r.stderr.trim())}`, {
      step: 'read',
      lb: lb.name,
    });
  try {
    return JSON.parse(r.stdout) as AppliedConfig;
  } catch (err) {
    throw new OperationError(`load balancer "${lb.name}": ${lb.file}.applied.json is not JSON: ${(err as Error).message}`, {
      step: 'read',
      lb: lb.name,
    });
  }
}

/** What repairLive did. */
export interface Repair {
  name: string;
  /** False: file and nginx agreed already. */
  changed: boolean;
  message: string;
}

/**
 * Makes `lb`'s file say what nginx serves, without touching traffic: the file of the generation the
 * status endpoint answers (from `.confirmed`, `.prev` or the applied configuration) is put back in
 * place, and nginx is NOT reloaded (it already serves exactly that text). Chosen over "apply the file's
 * split": a file that disagrees was never confirmed nor gated, and making it live would send users
 * an unrecorded split; the next reload by anyone would have done the same.
 */
export async function repairLive(lb: LoadBalancerConfig, transport: Transport, options: { signal?: AbortSignal } = {}): Promise<Repair> {
  const i = await inspectLb(lb, transport, options.signal);
  if (!i.status)
    throw new OperationError(`load balancer "${lb.name}": cannot tell what nginx serves (${i.statusError})`, {
      step: 'repair',
      lb: lb.name,
    });
  const g = i.status.generation;
  const served = `${formatSplit(i.status.split)} %`;
  if (i.file?.generation === g) return { name: lb.name, changed: false, message: `${lb.name}: file and nginx agree (${served})` };
  const was = i.file ? `${formatSplit(i.file.split)} %` : 'no managed file';
  const from = i.confirmed?.generation === g ? 'confirmed' : i.prev?.generation === g ? 'prev' : undefined;
  if (from) {
    const r = await reloadConfirmed(lb, transport, { mode: from, reload: false });
    if (!r.ok) throw new OperationError(`load balancer "${lb.name}": ${r.message}`, { step: 'repair', lb: lb.name });
  } else {
    const applied = await readAppliedConfig(lb, transport, options);
    if (applied?.generation !== g)
      throw new OperationError(`load balancer "${lb.name}": nginx serves generation ${g} (${served}) but no copy of that file is left`, {
        step: 'repair',
        lb: lb.name,
      });
    const r = await runScript(transport, PUT_SCRIPT, [lb.file], { input: applied.file, timeoutMs: 30000 });
    if (r.code !== 0)
      throw new OperationError(`load balancer "${lb.name}": writing ${lb.file} failed: ${safeText(r.stderr.trim())}`, {
        step: 'repair',
        lb: lb.name,
      });
  }
  return {
    name: lb.name,
    changed: true,
    message: `${lb.name}: file put back to what nginx serves (${was} → ${served}); traffic unchanged`,
  };
}

/**
 * The split users get from `l`: what nginx answers on the status endpoint; for a file older than
 * generations (it defines no status endpoint) its header is all there is. undefined: unknown.
 */
export function servedSplit(l: Pick<LiveSplit, 'live' | 'split' | 'generation'>): number | undefined {
  return l.live?.split ?? (l.generation === undefined ? l.split : undefined);
}
