import { sha256 } from './inputsHash';
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run, ProcessError } from '../exec/process';
import { OperationError } from '../errors';
import type { Logger } from '../log';

/** How to run box. */
export interface BoxInvocation {
  command: string;
  /** Arguments before box's own (the script, when run through php). */
  args: string[];
  /** The box file that was found (absolute). */
  path: string;
  /** Where it was found: "setting", "vendor/bin/box", "PATH", "box.phar". */
  source: 'setting' | 'vendor/bin/box' | 'PATH' | 'box.phar';
}

async function isFile(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isFile() ?? false;
}

async function isExecutable(p: string): Promise<boolean> {
  if (!(await isFile(p))) return false;
  return fs.access(p, fsConstants.X_OK).then(
    () => true,
    () => false,
  );
}

/** PHP scripts (box.phar, composer's vendor/bin proxies) run through php: no exec bit needed. */
function invocation(file: string, source: BoxInvocation['source'], direct: boolean): BoxInvocation {
  return direct ? { command: file, args: [], path: file, source } : { command: 'php', args: [file], path: file, source };
}

/**
 * Finds box, in order: the explicit `setting` (a path, relative to the project; "auto"/"builtin"/empty mean none),
 * `vendor/bin/box`, `box` on PATH, `box.phar` in the project. Returns undefined when there is none
 * (also when an explicit path does not exist: the caller reports that where the path was written).
 */
export async function findBox(
  projectDir: string,
  setting?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BoxInvocation | undefined> {
  if (setting && setting !== 'auto' && setting !== 'builtin') {
    const file = path.resolve(projectDir, setting);
    if (!(await isFile(file))) return undefined;
    return invocation(file, 'setting', !file.endsWith('.phar') && (await isExecutable(file)) && !(await looksLikePhp(file)));
  }
  const vendorBox = path.join(projectDir, 'vendor', 'bin', 'box');
  if (await isFile(vendorBox)) return invocation(vendorBox, 'vendor/bin/box', false);
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'box');
    if (await isExecutable(candidate)) return invocation(candidate, 'PATH', true);
  }
  const boxPhar = path.join(projectDir, 'box.phar');
  if (await isFile(boxPhar)) return invocation(boxPhar, 'box.phar', false);
  return undefined;
}

async function looksLikePhp(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buf, 0, 64, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1');
    return head.startsWith('<?php') || /^#!.*\bphp\b/.test(head);
  } finally {
    await handle.close();
  }
}

/** Identity of a box file for the inputs hash: its contents' sha256 (a different box is a different build). */
export async function boxIdentity(box: BoxInvocation): Promise<string> {
  const data = await fs.readFile(box.path);
  return `box:${sha256(data)}`;
}

/** `box --version`, reduced to the version number ("4.6.1"), or "unknown". */
export async function boxVersion(box: BoxInvocation, options: { signal?: AbortSignal } = {}): Promise<string> {
  const r = await run(box.command, [...box.args, '--version', '--no-ansi'], {
    signal: options.signal,
    allowFailure: true,
    timeoutMs: 30000,
  });
  const m = /(\d+\.\d+\.\d+(?:[-.+][0-9A-Za-z.-]+)?)/.exec(r.stdout + r.stderr);
  return m ? m[1] : 'unknown';
}

export interface RunBoxOptions {
  log: Logger;
  signal?: AbortSignal;
  /** box.json to use when it is not the default (box.json / box.json.dist in the project). */
  configFile?: string;
  onLine?: (line: string) => void;
}

/**
 * Runs `box compile` in the project, streaming its output. The phar lands where box.json's
 * `output` says; the caller reads it from there. Throws OperationError (step "box") on failure.
 */
export async function runBoxCompile(box: BoxInvocation, projectDir: string, options: RunBoxOptions): Promise<void> {
  const args = [...box.args, 'compile', '--no-interaction', '--no-ansi'];
  if (options.configFile) args.push('--config', options.configFile);
  options.log.info(`$ ${[box.command, ...args].join(' ')}`);
  try {
    await run(box.command, args, {
      cwd: projectDir,
      signal: options.signal,
      onLine: (line) => {
        if (line === '') return;
        options.log.output(line);
        options.onLine?.(line);
      },
    });
  } catch (err) {
    if (err instanceof ProcessError) {
      throw new OperationError(`box compile failed: ${err.message}`, { step: 'box', file: projectDir, cause: err });
    }
    throw err;
  }
}
