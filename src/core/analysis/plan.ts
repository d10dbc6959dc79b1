/**
 * A rollout plan: `traffic.steps` items normalised. An item is a percentage (observed for the
 * analysis default), `{ "weight": 25, "observe": "5m" }`, or `{ "pause": true }` (wait for a person).
 */
import type { AnalysisConfig } from './analysisConfig';
import { parseDuration } from './analysisConfig';

/** A `traffic.steps` item as written in rollout.json. */
export type PlanStepInput = number | { weight: number; observe?: string | number } | { pause: true };

/** One normalised step. */
export type PlanStep = { kind: 'weight'; weight: number; observeMs: number } | { kind: 'pause' };

/** A step item that cannot be used; `index` locates it in `traffic.steps`. */
export class PlanError extends Error {
  constructor(
    readonly index: number,
    /** What is wrong, without the place (rollout.json's parser names the place its own way). */
    readonly detail: string,
  ) {
    super(`traffic.steps[${index}]: ${detail}`);
  }
}

/**
 * Normalises `traffic.steps` (pure). Weights must be 0–100 and not decrease; a pause may not come
 * first or follow another pause. Throws a PlanError naming the item.
 */
export function resolvePlan(items: readonly unknown[], analysis: Pick<AnalysisConfig, 'observeMs' | 'intervalMs'>): PlanStep[] {
  const steps: PlanStep[] = [];
  let last = 0;
  items.forEach((item, i) => {
    if (typeof item === 'number') {
      steps.push({ kind: 'weight', weight: weightOf(item, i, last), observeMs: analysis.observeMs });
      last = item;
      return;
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new PlanError(i, 'write a percentage, { "weight": 25, "observe": "5m" } or { "pause": true }');
    }
    const o = item as Record<string, unknown>;
    if ('pause' in o) {
      if (o.pause !== true || Object.keys(o).length !== 1) throw new PlanError(i, 'a pause step is exactly { "pause": true }');
      if (steps.length === 0 || steps[steps.length - 1].kind === 'pause') {
        throw new PlanError(i, 'a pause step must follow a weight step; remove it or move it after one');
      }
      steps.push({ kind: 'pause' });
      return;
    }
    for (const k of Object.keys(o))
      if (k !== 'weight' && k !== 'observe') throw new PlanError(i, `unknown field "${k}"; use "weight" and "observe"`);
    if (typeof o.weight !== 'number') throw new PlanError(i, '"weight" must be a percentage (0–100)');
    const weight = weightOf(o.weight, i, last);
    let observeMs = analysis.observeMs;
    if (o.observe !== undefined) {
      const ms = typeof o.observe === 'string' || typeof o.observe === 'number' ? parseDuration(o.observe) : undefined;
      if (ms === undefined || ms <= 0)
        throw new PlanError(i, `"observe" ${JSON.stringify(o.observe)} is not a duration; write e.g. "30s" or "5m"`);
      if (ms < analysis.intervalMs)
        throw new PlanError(i, `"observe" (${ms} ms) is shorter than analysis.interval (${analysis.intervalMs} ms)`);
      observeMs = ms;
    }
    steps.push({ kind: 'weight', weight, observeMs });
    last = weight;
  });
  return steps;
}

function weightOf(w: number, i: number, last: number): number {
  if (!Number.isFinite(w) || w < 0 || w > 100) throw new PlanError(i, `weight ${w} is not a percentage between 0 and 100`);
  if (w < last) throw new PlanError(i, `weight ${w} is below the previous step's ${last}; steps only go up`);
  return w;
}
