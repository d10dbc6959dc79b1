import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { readRolloutConfig } from '../core/config/rolloutConfig';
import type { RolloutConfig } from '../core/config/rolloutConfig';
import { InputError } from '../core/errors';
import type { BackendResult } from '../core/backends/deployBackends';
import type { RolloutOptions } from '../core/rollout/context';
import { appliedProject } from '../core/rollout/appliedProject';
import type { AppliedProject } from '../core/rollout/appliedProject';
import { safeText } from '../core/safeText';
import type { CliContext } from './cliCommand';

/** rollout.json of `--project` (default: the current folder); InputError when there is none. */
export async function projectConfig(values: { project?: string }): Promise<RolloutConfig> {
  const dir = path.resolve(values.project ?? process.cwd());
  const config = await readRolloutConfig(dir);
  if (!config)
    throw new InputError(`No rollout.json in ${dir}`, { hint: 'Create one (the extension offers a starter) or pass --project DIR.' });
  return config;
}

/**
 * rollout.json, or — when it has errors — the configuration the live split was last applied with
 * (the emergency path of status and `rollback --traffic`): `fallback` then says which and why, and
 * a warning with rollout.json's located errors is logged. InputErrors when neither can be read.
 */
export async function projectOrAppliedConfig(
  values: { project?: string },
  ctx: CliContext,
): Promise<{ config: RolloutConfig; fallback?: AppliedProject }> {
  try {
    return { config: await projectConfig(values) };
  } catch (err) {
    const dir = path.resolve(values.project ?? process.cwd());
    if (!existsSync(path.join(dir, 'rollout.json'))) throw err;
    const fallback = await appliedProject(dir, err, cliOptions(ctx));
    ctx.log.warn(
      `rollout.json has errors — using the last applied configuration, from ${fallback.source}:\n${fallback.configErrors
        .map((e) => `  ${e.format()}`)
        .join('\n')}`,
    );
    return { config: fallback.config, fallback };
  }
}

/** The options every rollout verb passes to the core: logger, Ctrl-C, progress on --verbose. */
export function cliOptions(ctx: CliContext): RolloutOptions {
  return { log: ctx.log, signal: ctx.signal, onProgress: (p) => ctx.log.debug(p.message) };
}

/**
 * Text for a terminal: every line made safe (control characters, escapes and bidi overrides shown
 * visibly) and capped, the line breaks kept. For messages that quote servers, files or lock owners.
 */
export function terminalText(text: string): string {
  return text
    .split('\n')
    .map((line) => safeText(line, 4000))
    .join('\n');
}

/** A backend's outcome, as deploy, promote and release rollback print it. */
export function resultTable(results: readonly BackendResult[]): string {
  return table(
    ['BACKEND', 'RESULT', 'TIME', 'ERROR'],
    results.map((r) => [
      r.backend,
      r.ok ? 'ok' : r.cancelled ? 'cancelled' : `FAILED (${r.step})`,
      `${(r.durationMs / 1000).toFixed(1)} s`,
      safeText(r.error ?? ''),
    ]),
  );
}

/** A plain text table: columns padded to their widest cell. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
