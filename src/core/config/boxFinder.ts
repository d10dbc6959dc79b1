import type { JSONPath } from 'jsonc-parser';
import { checkKind, relativeInside } from './boxValues';
import type { ErrorSink } from './boxValues';
import { patternProblem } from './finderPattern';
import { quoted } from '../safeText';

/** One `finder` entry: a subset of Symfony Finder's methods, each list applied as box does (once per value). */
export interface FinderSpec {
  /** Folders relative to the base path. */
  in: string[];
  /** Base-name globs ("*.php") or regexes ("/\.php$/"); a file must match one when any is given. */
  name: string[];
  notName: string[];
  /** Folders to skip: a bare name anywhere below `in`, a path with "/" relative to `in`. */
  exclude: string[];
  /** Substrings or regexes of the path relative to `in`; a file must match one when any is given. */
  path: string[];
  notPath: string[];
  ignoreDotFiles: boolean;
  ignoreVCS: boolean;
  /** Where the entry is in box.json, for errors found later (a missing folder). */
  jsonPath: JSONPath;
}

/** The Symfony Finder methods the built-in compiler implements, with their JSON types. */
export const FINDER_METHODS: Readonly<Record<string, 'stringOrList' | 'boolean'>> = {
  in: 'stringOrList',
  name: 'stringOrList',
  notName: 'stringOrList',
  exclude: 'stringOrList',
  path: 'stringOrList',
  notPath: 'stringOrList',
  ignoreDotFiles: 'boolean',
  ignoreVCS: 'boolean',
};

/** Resolves one `finder` entry at `at`, reporting unknown methods, wrong types, folders outside `basePath` and bad patterns. */
export function finderSpec(entry: Record<string, unknown>, at: JSONPath, basePath: string, err: ErrorSink): FinderSpec {
  const list = (key: string): string[] => {
    const v = entry[key];
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    return [];
  };
  for (const [key, value] of Object.entries(entry)) {
    const kind = Object.hasOwn(FINDER_METHODS, key) ? FINDER_METHODS[key] : undefined; // own keys only ("hasOwnProperty")
    if (!kind) {
      err(
        [...at, key],
        `box.json finder method ${quoted(key)} is not supported by the built-in compiler`,
        `supported: ${Object.keys(FINDER_METHODS).join(', ')}; or install box (vendor/bin/box, PATH, or the pharRollout.boxPath setting)`,
        true,
      );
      continue;
    }
    checkKind(value, kind, [...at, key], err);
  }
  const dirs = list('in');
  if (dirs.length === 0) err(at, 'A finder entry needs "in" (the folders to search)', 'For example { "in": "src", "name": "*.php" }.');
  const ins = dirs.map((d, i) => {
    const rel = relativeInside(basePath, d);
    if (rel === undefined)
      err(Array.isArray(entry.in) ? [...at, 'in', i] : [...at, 'in'], `Finder folder ${quoted(d)} is outside the base path`);
    return rel ?? d;
  });
  for (const key of ['name', 'notName', 'path', 'notPath']) {
    list(key).forEach((pattern, i) => {
      const problem = patternProblem(pattern);
      if (problem) err([...at, key, ...(Array.isArray(entry[key]) ? [i] : [])], `Finder ${key} pattern ${quoted(pattern)}: ${problem}`);
    });
  }
  return {
    in: ins,
    name: list('name'),
    notName: list('notName'),
    exclude: list('exclude').map((e) => e.replace(/\/+$/, '')),
    path: list('path'),
    notPath: list('notPath'),
    ignoreDotFiles: entry.ignoreDotFiles !== false,
    ignoreVCS: entry.ignoreVCS !== false,
    jsonPath: at,
  };
}
