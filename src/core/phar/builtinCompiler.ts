import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, ProcessError } from '../exec/process';
import { OperationError } from '../errors';
import type { Logger } from '../log';
import type { PharEntry } from './fileSelection';

/** What php/compile.php reads: see the comment at the top of that script. */
export interface CompilePlan {
  /** Absolute; must end in .phar. */
  output: string;
  alias: string | null;
  /** Full stub text, or null for Phar::createDefaultStub(defaultStubIndex). */
  stub: string | null;
  defaultStubIndex: string | null;
  files: PharEntry[];
  main: string | null;
  placeholders: Record<string, string>;
  compression: 'GZ' | 'NONE';
  algorithm: 'MD5' | 'SHA1' | 'SHA256' | 'SHA512';
  metadata: unknown;
  /** Unix seconds stamped on every entry. */
  timestamp: number;
}

export interface CompileOptions {
  /** Absolute path of php/compile.php. */
  compilerScript: string;
  log: Logger;
  signal?: AbortSignal;
  /** php executable (default "php" on PATH). */
  php?: string;
  /** Each progress line of the compiler ("adding 18 files", ...). */
  onLine?: (line: string) => void;
}

/**
 * Writes the phar described by `plan` with the built-in compiler (`php -d phar.readonly=0 compile.php`).
 * The plan goes through a temporary file (large file lists would not fit a command line).
 * On failure the output is removed by the script; throws OperationError (step "compile").
 */
export async function compileBuiltin(plan: CompilePlan, options: CompileOptions): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'phar-rollout-plan-'));
  const planFile = path.join(tmp, 'plan.json');
  try {
    await fs.writeFile(planFile, JSON.stringify(plan));
    const php = options.php ?? 'php';
    options.log.info(`$ ${php} -d phar.readonly=0 ${options.compilerScript} <plan: ${plan.files.length} files>`);
    await run(php, ['-d', 'phar.readonly=0', '-d', 'display_errors=stderr', options.compilerScript, planFile], {
      signal: options.signal,
      onLine: (line, stream) => {
        if (line === '') return;
        options.log.output(line);
        if (stream === 'stdout') options.onLine?.(line);
      },
    });
  } catch (err) {
    if (err instanceof ProcessError) {
      const detail = (err.result.stderr || err.result.stdout).trim().split('\n').slice(-3).join('\n');
      throw new OperationError(`The built-in compiler failed: ${detail || err.message}`, {
        step: 'compile',
        file: plan.output,
        cause: err,
      });
    }
    throw err;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The stub box generates: shebang, banner comment, Phar::mapPhar(alias), optional
 * Phar::interceptFileFuncs(), then require of the main script through the alias.
 */
export function generateStub(options: {
  alias: string;
  main: string | false;
  shebang: string | false;
  banner?: string;
  intercept: boolean;
}): string {
  const lines: string[] = [];
  if (options.shebang) lines.push(options.shebang);
  lines.push('<?php', '');
  if (options.banner !== undefined && options.banner !== '') {
    lines.push('/*', ...options.banner.split('\n').map((l) => (l === '' ? ' *' : ` * ${l}`)), ' */', '');
  }
  lines.push(`Phar::mapPhar(${phpString(options.alias)});`, '');
  if (options.intercept) lines.push('Phar::interceptFileFuncs();', '');
  if (options.main !== false) lines.push(`require ${phpString(`phar://${options.alias}/${options.main}`)};`, '');
  lines.push('__HALT_COMPILER(); ?>', '');
  return lines.join('\n');
}

/** A single-quoted PHP string literal. */
export function phpString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
