import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse as parseLenient } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import type { LoadBalancerConfig, RolloutConfig } from '../config/rolloutConfig';
import { ROLLOUT_FILE } from '../config/rolloutConfig';
import { CancelledError, InputError, InputErrors, describeError, inputErrorsOf } from '../errors';
import { TransportPool } from '../exec/transportFor';
import { safeText } from '../safeText';
import { readAppliedConfig } from '../traffic/live';
import type { RolloutOptions } from './context';
import { loadBalancersCachePath } from './shared';

/** The configuration a split was last applied with, found while rollout.json is broken. */
export interface AppliedProject {
  /** The applied configuration, with this project's folder and rollout.json path. */
  config: RolloutConfig;
  /** Where it came from and when it was applied, in words ("lb-1:/etc/nginx/app.conf.applied.json, applied …"). */
  source: string;
  /** rollout.json's located errors (why the applied configuration is used). */
  configErrors: InputError[];
}

type LbEntry = Pick<LoadBalancerConfig, 'name' | 'file'> & { ssh?: string };

function entriesOf(value: unknown, projectDir: string): LbEntry[] {
  const list = (value as { loadBalancers?: unknown } | undefined)?.loadBalancers;
  if (!Array.isArray(list)) return [];
  return list
    .filter(
      (l): l is LbEntry => typeof l?.name === 'string' && typeof l?.file === 'string' && (l.ssh === undefined || typeof l.ssh === 'string'),
    )
    .map((l) => ({ name: l.name, file: l.ssh ? l.file : path.resolve(projectDir, l.file), ...(l.ssh ? { ssh: l.ssh } : {}) }));
}

/** LB entries from a broken rollout.json (parsed leniently: what survives a syntax error), else from the local copy. */
async function findLoadBalancers(projectDir: string): Promise<{ entries: LbEntry[]; from: string; why: string[] }> {
  const why: string[] = [];
  const file = path.join(projectDir, ROLLOUT_FILE);
  try {
    const errors: ParseError[] = [];
    const entries = entriesOf(parseLenient(await fs.readFile(file, 'utf8'), errors, { allowTrailingComma: true }), projectDir);
    if (entries.length) return { entries, from: ROLLOUT_FILE, why };
    why.push(`${ROLLOUT_FILE} names no readable load balancer entry (name and file)`);
  } catch (err) {
    why.push(`${file}: ${describeError(err)}`);
  }
  const cache = loadBalancersCachePath(projectDir);
  try {
    const entries = entriesOf(JSON.parse(await fs.readFile(cache, 'utf8')), projectDir);
    if (entries.length) return { entries, from: cache, why };
    why.push(`${cache} names no load balancer`);
  } catch (err) {
    why.push(
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `${cache} does not exist (no split was applied from this machine)`
        : `${cache}: ${describeError(err)}`,
    );
  }
  return { entries: [], from: '', why };
}

/**
 * The emergency path: with rollout.json broken (`configError`, its located errors), finds the LBs
 * (a lenient parse of rollout.json, else `.rollout/loadBalancers.json` of the last split applied
 * here) and reads from them the configuration their live split was applied with
 * (`<file>.applied.json`, see readAppliedConfig). Status and a traffic rollback run from it.
 * Throws InputErrors — rollout.json's errors plus one saying why — when no LB or applied
 * configuration can be found.
 */
export async function appliedProject(projectDir: string, configError: unknown, options: RolloutOptions = {}): Promise<AppliedProject> {
  const configErrors = inputErrorsOf(configError);
  if (configErrors.length === 0) throw configError;
  const refuse = (why: string[]) =>
    new InputErrors([
      ...configErrors,
      new InputError(`${ROLLOUT_FILE} has errors and the last applied configuration could not be found either: ${why.join('; ')}`, {
        hint: `Fix ${ROLLOUT_FILE} (the errors above).`,
      }),
    ]);
  const { entries, from, why } = await findLoadBalancers(projectDir);
  if (entries.length === 0) throw refuse(why);
  const pool = options.transports ?? new TransportPool({ ...options.ssh, log: options.log });
  try {
    for (const lb of entries) {
      try {
        const applied = await readAppliedConfig(lb, pool.get(lb), { signal: options.signal });
        if (!applied?.config?.loadBalancers?.length) {
          why.push(`${lb.name}: no ${lb.file}.applied.json (its split was applied before this version)`);
          continue;
        }
        const config: RolloutConfig = { ...applied.config, projectDir, file: path.join(projectDir, ROLLOUT_FILE) };
        const source = `${safeText(lb.name)}:${safeText(lb.file)}.applied.json (applied ${safeText(applied.time)}; load balancers found in ${from})`;
        return { config, source, configErrors };
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        why.push(`${lb.name}: ${describeError(err)}`);
      }
    }
  } finally {
    if (!options.transports) await pool.dispose();
  }
  throw refuse(why);
}
