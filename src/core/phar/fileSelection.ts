import { promises as fs } from 'node:fs';
import type { Dirent } from 'node:fs';
import * as path from 'node:path';
import type { JSONPath } from 'jsonc-parser';
import type { BoxConfig } from '../config/boxConfig';
import type { FinderSpec } from '../config/boxFinder';
import { nameMatcher, pathMatcher } from '../config/finderPattern';
import { throwIfAborted } from '../errors';
import { safeText } from '../safeText';

/** One file of the phar. */
export interface PharEntry {
  /** Path inside the phar, "/"-separated, relative to the base path. */
  local: string;
  /** Absolute path on disk. */
  source: string;
  /** Added unmodified (files-bin, directories-bin, finder-bin): no placeholder replacement. */
  binary: boolean;
}

/** A box.json value whose files cannot be found. */
export interface SelectionProblem {
  at: JSONPath;
  message: string;
  hint?: string;
}

export interface SelectOptions {
  signal?: AbortSignal;
  /**
   * Top-level folders that do not exist yet (vendor/ before composer install): problems under them
   * are not reported. Used for the check that runs before anything is written.
   */
  pending?: string[];
  /** More absolute paths never to add (besides .rollout/ and box's output). */
  excludeAbsolute?: string[];
}

const VCS = new Set([
  '.git',
  '.svn',
  '.hg',
  '.bzr',
  '_darcs',
  'CVS',
  '.arch-ids',
  '{arch}',
  'SCCS',
  '_svn',
  '.arch-params',
  '.monotone',
  'RCS',
]);
const COMPOSER_FILES = ['composer.json', 'composer.lock', 'vendor/composer/installed.json'];

/**
 * The files the built-in compiler puts in the phar, sorted by path inside the phar (byte order),
 * following box's rules for main, files(-bin), directories(-bin), finder(-bin), autodiscovery,
 * blacklist, exclude-composer-files and exclude-dev-files. Symlinked folders are not followed.
 */
export async function selectFiles(
  config: BoxConfig,
  options: SelectOptions = {},
): Promise<{ entries: PharEntry[]; problems: SelectionProblem[] }> {
  const base = config.basePath;
  const problems: SelectionProblem[] = [];
  const pending = (rel: string) => (options.pending ?? []).some((p) => rel === p || rel.startsWith(`${p}/`));
  const excluded = new Set([config.output, ...(options.excludeAbsolute ?? [])].map((p) => path.resolve(p)));
  excluded.add(path.join(base, '.rollout'));
  const devDirs = config.excludeDevFiles ? await devPackageDirs(base) : [];
  const blacklisted = (rel: string) =>
    config.blacklist.some((b) => b === '.' || rel === b || rel.startsWith(`${b}/`)) || devDirs.some((d) => rel.startsWith(`${d}/`));

  const regular = new Map<string, string>();
  const binary = new Map<string, string>();

  const walk = async (
    relDir: string,
    opts: { ignoreDot: boolean; ignoreVCS: boolean; excludeDir?: (relFromStart: string, name: string) => boolean },
    onFile: (rel: string, abs: string) => void,
    at: JSONPath,
  ) => {
    const startAbs = path.resolve(base, relDir);
    const stat = await fs.stat(startAbs).catch(() => undefined);
    if (!stat?.isDirectory()) {
      if (!pending(relDir))
        problems.push({
          at,
          message: `Folder ${safeText(relDir)} does not exist in ${base}`,
          hint: 'Fix the path (relative to the base path) or create the folder.',
        });
      return;
    }
    const visit = async (abs: string, relFromStart: string) => {
      throwIfAborted(options.signal);
      let dirents: Dirent[];
      try {
        dirents = await fs.readdir(abs, { withFileTypes: true });
      } catch {
        return;
      }
      for (const d of dirents) {
        const childAbs = path.join(abs, d.name);
        if (excluded.has(childAbs)) continue;
        if (opts.ignoreVCS && VCS.has(d.name)) continue;
        if (opts.ignoreDot && d.name.startsWith('.')) continue;
        const childRel = relFromStart ? `${relFromStart}/${d.name}` : d.name;
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        if (d.isSymbolicLink()) {
          // A symlinked file is added with its target's contents; a symlinked folder is not followed.
          const target = await fs.stat(childAbs).catch(() => undefined);
          isDir = false;
          isFile = target?.isFile() ?? false;
        }
        if (isDir) {
          if (opts.excludeDir?.(childRel, d.name)) continue;
          await visit(childAbs, childRel);
        } else if (isFile) {
          onFile(toLocal(base, childAbs), childAbs);
        }
      }
    };
    await visit(startAbs, '');
  };

  const addTo = (target: Map<string, string>, filtered: boolean) => (rel: string, abs: string) => {
    if (filtered && blacklisted(rel)) return;
    target.set(rel, abs);
  };

  if (config.autodiscovery) {
    await walk('.', { ignoreDot: true, ignoreVCS: true }, addTo(regular, true), []);
  }
  for (const [key, list, target] of [
    ['directories', config.directories, regular],
    ['directories-bin', config.directoriesBin, binary],
  ] as const) {
    for (const [i, dir] of list.entries()) await walk(dir, { ignoreDot: true, ignoreVCS: true }, addTo(target, true), [key, i]);
  }
  for (const [specs, target] of [
    [config.finders, regular],
    [config.findersBin, binary],
  ] as const) {
    for (const spec of specs) await runFinder(spec, walk, addTo(target, true));
  }
  for (const [key, list, target] of [
    ['files', config.files, regular],
    ['files-bin', config.filesBin, binary],
  ] as const) {
    for (const [i, file] of list.entries()) {
      const abs = path.resolve(base, file);
      const stat = await fs.stat(abs).catch(() => undefined);
      if (stat?.isFile()) target.set(file, abs);
      else if (!pending(file))
        problems.push({
          at: [key, i],
          message: `File ${safeText(file)} does not exist in ${base}`,
          hint: 'Fix the path (relative to the base path).',
        });
    }
  }
  if (typeof config.main === 'string') {
    const abs = path.resolve(base, config.main);
    const stat = await fs.stat(abs).catch(() => undefined);
    if (stat?.isFile()) regular.set(config.main, abs);
    else if (!pending(config.main)) {
      problems.push({
        at: config.mainIsDefault ? [] : ['main'],
        message: `Main script ${safeText(config.main)} does not exist in ${base}`,
        hint: config.mainIsDefault
          ? 'Set "main" in box.json to your front controller, or false with a custom "stub".'
          : 'Fix the path (relative to the base path).',
      });
    }
  }
  if (typeof config.stub === 'string') {
    const stat = await fs.stat(path.resolve(base, config.stub)).catch(() => undefined);
    if (!stat?.isFile())
      problems.push({
        at: ['stub'],
        message: `Stub file ${safeText(config.stub)} does not exist in ${base}`,
        hint: 'Fix the path, or use true for a generated stub.',
      });
  }

  if (config.excludeComposerFiles) {
    for (const f of COMPOSER_FILES) {
      regular.delete(f);
      binary.delete(f);
    }
  }
  // A file found both ways is regular (box: regular files take precedence).
  for (const rel of regular.keys()) binary.delete(rel);
  const entries: PharEntry[] = [
    ...[...regular].map(([local, source]) => ({ local, source, binary: false })),
    ...[...binary].map(([local, source]) => ({ local, source, binary: true })),
  ].sort((a, b) => (a.local < b.local ? -1 : a.local > b.local ? 1 : 0));
  return { entries, problems };
}

type Walk = (
  relDir: string,
  opts: { ignoreDot: boolean; ignoreVCS: boolean; excludeDir?: (relFromStart: string, name: string) => boolean },
  onFile: (rel: string, abs: string) => void,
  at: JSONPath,
) => Promise<void>;

async function runFinder(spec: FinderSpec, walk: Walk, add: (rel: string, abs: string) => void): Promise<void> {
  const names = spec.name.map(nameMatcher);
  const notNames = spec.notName.map(nameMatcher);
  const paths = spec.path.map(pathMatcher);
  const notPaths = spec.notPath.map(pathMatcher);
  // Symfony's exclude(): a bare name skips that folder at any depth, a path with "/" is relative to `in`.
  const bare = new Set(spec.exclude.filter((e) => !e.includes('/')));
  const nested = spec.exclude.filter((e) => e.includes('/'));
  const excludeDir = (relFromIn: string, name: string) =>
    bare.has(name) || nested.some((n) => relFromIn === n || relFromIn.startsWith(`${n}/`));
  for (const [i, dir] of spec.in.entries()) {
    const prefix = dir === '.' ? '' : `${dir}/`;
    await walk(
      dir,
      { ignoreDot: spec.ignoreDotFiles, ignoreVCS: spec.ignoreVCS, excludeDir },
      (rel, abs) => {
        const relFromIn = rel.startsWith(prefix) ? rel.slice(prefix.length) : rel;
        const name = path.posix.basename(rel);
        if (names.length && !names.some((m) => m(name))) return;
        if (notNames.some((m) => m(name))) return;
        if (paths.length && !paths.some((m) => m(relFromIn))) return;
        if (notPaths.some((m) => m(relFromIn))) return;
        add(rel, abs);
      },
      [...spec.jsonPath, 'in', ...(spec.in.length > 1 ? [i] : [])],
    );
  }
}

/** vendor/<name> folders of packages composer installed as dev-only (from vendor/composer/installed.json). */
async function devPackageDirs(base: string): Promise<string[]> {
  try {
    const installed = JSON.parse(await fs.readFile(path.join(base, 'vendor', 'composer', 'installed.json'), 'utf8')) as {
      'dev-package-names'?: unknown;
    };
    const names = installed['dev-package-names'];
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string').map((n) => `vendor/${n}`) : [];
  } catch {
    return [];
  }
}

function toLocal(base: string, abs: string): string {
  return path.relative(base, abs).split(path.sep).join('/');
}
