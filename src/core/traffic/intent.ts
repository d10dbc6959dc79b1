import * as os from 'node:os';
import type { LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { OperationError } from '../errors';
import { processAlive } from '../exec/hostLock';
import type { Transport } from '../exec/transport';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { processStart, reloadConfirmed } from './apply';
import { inspectLb } from './live';
import type { Intent, LbInspection } from './live';
import { safeText } from '../safeText';
import { formatSplit } from './render';

/** A change whose owner still runs (or may: its heartbeat is fresh): reconcile leaves it alone. */
export interface BusyIntent {
  op: string;
  owner: string;
  host: string;
  pid: number;
  /** Age of the intent by the LB host's clock. */
  ageS: number;
}

/** What reconcile put back: the text for the history's "recovered" event and the figures. */
export interface Recovered {
  op: string;
  owner: string;
  pid: number;
  host: string;
  /** When the interrupted change started. */
  time: string;
  /** Split the interrupted change was going to (null: not a managed file). */
  interruptedSplit: number | null;
  /** Per LB: the split now confirmed live (null: no managed file before). */
  loadBalancers: Array<{ name: string; split: number | null; generation?: string; action: string }>;
  /** One line for the history and the terminal. */
  description: string;
}

export interface ReconcileResult {
  recovered: Recovered[];
  busy: BusyIntent[];
}

export interface ReconcileOptions {
  log?: Logger;
  signal?: AbortSignal;
  /** An intent of another host whose heartbeat is older than this is stale. Default 5 min. */
  staleMs?: number;
  /** Per LB: how long the reload may take to become live. Default 10 s. */
  confirmDeadlineMs?: number;
  /** Is `pid` of this host still the intent's owner? Default: alive and same start time (/proc). */
  ownerAlive?: (intent: Intent) => boolean;
}

/** True while the process that wrote `intent` on this host still runs (pid alive, same start time). */
export function ownerAlive(intent: Intent): boolean {
  if (!processAlive(intent.pid)) return false;
  const start = processStart(intent.pid);
  return intent.pidStart === undefined || start === undefined || start === intent.pidStart;
}

function gone(intent: Intent, ageS: number, o: ReconcileOptions): boolean {
  if (intent.host === os.hostname()) return !(o.ownerAlive ?? ownerAlive)(intent);
  return ageS * 1000 > (o.staleMs ?? 5 * 60 * 1000);
}

const pct = (s: number | null | undefined) => (s === null || s === undefined ? 'no managed file' : `${formatSplit(s)} %`);

/**
 * Finishes what a killed ramp or rollback left: for every unfinished intent (an `<file>.intent` not
 * marked done) whose owner is gone — its pid is dead on this host, or, from another host, its
 * heartbeat is older than `staleMs` by the LB host's clock — every LB that change touched goes back
 * to the generation it served before (the file from `.prev` or `.confirmed`, chosen by generation),
 * is reloaded when nginx does not already serve it, and is confirmed live; then the intent is marked
 * done. Returns one `Recovered` per change (record each as a "recovered" history event and show its
 * `description`) and the changes still owned by a live process (`busy`: do not touch them).
 * Call it at the start of every command that changes or reports traffic, under the lock.
 * Throws OperationError naming the LB when a recovery fails (the intent then stays, for the next try).
 */
export async function reconcile(
  config: Pick<RolloutConfig, 'loadBalancers'>,
  transportOf: (lb: LoadBalancerConfig) => Transport,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const log = options.log ?? nullLogger;
  const lbs = config.loadBalancers;
  const seen = await Promise.all(lbs.map((lb) => inspectLb(lb, transportOf(lb), options.signal)));
  const open = new Map<string, { intent: Intent; ageS: number }>();
  for (const i of seen)
    if (i.intent && !open.has(i.intent.value.op)) open.set(i.intent.value.op, { intent: i.intent.value, ageS: i.intent.ageS });
  const result: ReconcileResult = { recovered: [], busy: [] };
  for (const { intent, ageS } of open.values()) {
    if (!gone(intent, ageS, options)) {
      result.busy.push({ op: intent.op, owner: intent.owner, host: intent.host, pid: intent.pid, ageS });
      continue;
    }
    log.warn(`an interrupted change (${safeText(intent.owner)}, pid ${intent.pid} on ${safeText(intent.host)}) is being undone`);
    const touched = lbs
      .map((lb, k) => ({ lb, i: seen[k], it: seen[k].intent?.value.op === intent.op ? seen[k].intent : seen[k].intentDone }))
      .filter((x) => x.it?.value.op === intent.op);
    const done = await Promise.all(touched.map((x) => recoverLb(x.lb, transportOf(x.lb), x.i, x.it!.value, options)));
    const befores = done.map((d) => d.split);
    const same = befores.every((b) => b === befores[0]);
    const where = same ? `every load balancer is back on ${pct(befores[0])}` : done.map((d) => `${d.name} ${pct(d.split)}`).join(', ');
    result.recovered.push({
      op: intent.op,
      owner: intent.owner,
      pid: intent.pid,
      host: intent.host,
      time: intent.time,
      interruptedSplit: intent.split,
      loadBalancers: done,
      // The intent is text from the LB host: made safe before anyone sees it.
      description: `recovered an interrupted change to ${pct(intent.split)} by ${safeText(intent.owner)} (pid ${intent.pid} on ${safeText(intent.host)}, started ${safeText(intent.time)}): ${where}, confirmed live`,
    });
  }
  return result;
}

async function recoverLb(
  lb: LoadBalancerConfig,
  transport: Transport,
  i: LbInspection,
  intent: Intent,
  o: ReconcileOptions,
): Promise<Recovered['loadBalancers'][number]> {
  const target = intent.beforeGeneration || undefined;
  const split = intent.beforeSplit ? Number(intent.beforeSplit) : null;
  let mode: 'keep' | 'prev' | 'confirmed' | 'remove';
  if (intent.hadFile === 'none') mode = 'remove';
  // The file before had no generation: .prev is it once the swap happened (the live file is the new one).
  else if (target === undefined) mode = intent.generation !== null && i.file?.generation === intent.generation ? 'prev' : 'keep';
  else if (i.file?.generation === target) mode = 'keep';
  else if (i.prev?.generation === target) mode = 'prev';
  else if (i.confirmed?.generation === target) mode = 'confirmed';
  else
    throw new OperationError(
      `load balancer "${lb.name}": the interrupted change started from generation ${target}, and no copy of that file is left (${lb.file}, .prev, .confirmed)`,
      { step: 'reconcile', lb: lb.name },
    );
  // Always reload: one status answer of the target proves nothing (an old worker may still answer for
  // ~100 ms after a reload that a killed owner had started).
  const reload = true;
  const r = await reloadConfirmed(lb, transport, {
    mode,
    reload,
    generation: target,
    pidFile: lb.pidFile ?? i.pidFile,
    errorLog: lb.errorLog ?? i.errorLog,
    deadlineMs: o.confirmDeadlineMs,
    op: intent.op,
  });
  if (!r.ok)
    throw new OperationError(`load balancer "${lb.name}": recovering the interrupted change failed: ${r.message}`, {
      step: 'reconcile',
      lb: lb.name,
    });
  return {
    name: lb.name,
    split,
    generation: target,
    action: `${mode === 'keep' ? 'file kept' : `file from ${mode}`}${reload ? ', reloaded' : ''}`,
  };
}
