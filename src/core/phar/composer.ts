import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../exec/process';
import type { Logger } from '../log';
import { ProcessError } from '../exec/process';
import { OperationError } from '../errors';

export interface ComposerOptions {
  log: Logger;
  signal?: AbortSignal;
  /** The composer executable (default "composer" on PATH). */
  composer?: string;
  timeoutMs?: number;
}

/**
 * Runs `composer <args>` in `projectDir`, streaming its output to `log.output`, non-interactive.
 * Does nothing when `args` is empty (rollout.json `"build": {"composer": []}`).
 * Throws CancelledError on abort, OperationError (step "composer") on failure.
 */
export async function runComposer(projectDir: string, args: readonly string[], options: ComposerOptions): Promise<void> {
  if (args.length === 0) {
    options.log.info('composer: skipped (no arguments configured)');
    return;
  }
  const composer = options.composer ?? 'composer';
  options.log.info(`$ ${[composer, ...args].join(' ')}`);
  try {
    await run(composer, args, {
      cwd: projectDir,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      env: { COMPOSER_NO_INTERACTION: '1' },
      onLine: (line) => {
        if (line.trim() !== '') options.log.output(line);
      },
    });
  } catch (err) {
    if (err instanceof ProcessError) {
      throw new OperationError(`composer ${args.join(' ')} failed: ${err.message}`, { step: 'composer', file: projectDir, cause: err });
    }
    throw err;
  }
}

/**
 * Before composer 2.6.4 (and without composer.lock) the autoloader class suffix is random, so two
 * builds of one commit differ. Returns a warning to show when that is the case, else undefined.
 */
export async function autoloaderSuffixWarning(projectDir: string): Promise<string | undefined> {
  const read = (name: string) => fs.readFile(path.join(projectDir, name), 'utf8').catch(() => undefined);
  const autoload = await read('vendor/autoload.php');
  const suffix = autoload && /ComposerAutoloaderInit([A-Za-z0-9_]+)::getLoader/.exec(autoload)?.[1];
  if (!suffix) return undefined;
  const json = (text: string | undefined): Record<string, unknown> => {
    try {
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  };
  const lockHash = json(await read('composer.lock'))['content-hash'];
  const configured = (json(await read('composer.json')).config as Record<string, unknown> | undefined)?.['autoloader-suffix'];
  if (suffix === lockHash || suffix === configured) return undefined;
  return (
    'composer wrote a random autoloader suffix, so builds of the same commit will not be byte-identical: ' +
    'commit composer.lock and use composer 2.6.4 or newer, or set "config": {"autoloader-suffix": "..."} in composer.json'
  );
}
