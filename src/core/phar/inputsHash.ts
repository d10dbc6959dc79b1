import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { throwIfAborted } from '../errors';

/** Everything that decides a build's output. Equal descriptions give equal hashes, in any file order. */
export interface BuildInputs {
  app: string;
  version: string;
  /** Full commit or "unknown". */
  commit: string;
  commitTime: string;
  dirty: boolean;
  composerArgs: readonly string[];
  /** "builtin" or "box:<sha256 of the box file>". */
  builder: string;
  /** sha256 of php/compile.php (builtin only; empty for box). */
  compiler: string;
  /** Project files (relative "/" paths) with their sha256: sources, composer.json/lock, box.json, rollout.json. */
  files: ReadonlyArray<{ path: string; sha256: string }>;
}

/** Bump when the meaning of the inputs changes, so old cache entries stop matching. */
const FORMAT = 1;

/** The inputs hash: sha256 of a canonical JSON form of `inputs` (files sorted by path). */
export function computeInputsHash(inputs: BuildInputs): string {
  const files = [...inputs.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => [f.path, f.sha256]);
  const canonical = JSON.stringify([
    FORMAT,
    inputs.app,
    inputs.version,
    inputs.commit,
    inputs.commitTime,
    inputs.dirty,
    [...inputs.composerArgs],
    inputs.builder,
    inputs.compiler,
    files,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** sha256 (hex) of a buffer or string. */
export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Folders never hashed at the project's top: git's, the extension's own, and composer's output. */
export const UNHASHED_TOP_DIRS = ['.git', '.rollout', 'vendor'];

/**
 * Every file of the project with its sha256, except `.git` (at any depth), `.rollout/`, `vendor/`
 * and the absolute paths in `exclude` (box's output phar). Symlinks count by their target text and are not followed.
 */
export async function hashProjectFiles(
  projectDir: string,
  options: { exclude?: string[]; signal?: AbortSignal } = {},
): Promise<Array<{ path: string; sha256: string }>> {
  const root = path.resolve(projectDir);
  const excluded = new Set((options.exclude ?? []).map((p) => path.resolve(p)));
  const files: Array<{ rel: string; abs: string; link: boolean }> = [];
  const walk = async (abs: string, rel: string) => {
    throwIfAborted(options.signal);
    const dirents = await fs.readdir(abs, { withFileTypes: true });
    for (const d of dirents) {
      const childAbs = path.join(abs, d.name);
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (excluded.has(childAbs)) continue;
      if (d.name === '.git') continue;
      if (!rel && UNHASHED_TOP_DIRS.includes(d.name)) continue;
      if (d.isSymbolicLink()) files.push({ rel: childRel, abs: childAbs, link: true });
      else if (d.isDirectory()) await walk(childAbs, childRel);
      else if (d.isFile()) files.push({ rel: childRel, abs: childAbs, link: false });
    }
  };
  await walk(root, '');
  const out: Array<{ path: string; sha256: string }> = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      throwIfAborted(options.signal);
      const f = files[i];
      const digest = f.link ? sha256(`symlink:${await fs.readlink(f.abs)}`) : sha256(await fs.readFile(f.abs));
      out[i] = { path: f.rel, sha256: digest };
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, files.length) }, worker));
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
