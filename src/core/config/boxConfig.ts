import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { JSONPath } from 'jsonc-parser';
import { InputError, InputErrors } from '../errors';
import type { SourceLocation } from '../errors';
import { JsonDocument } from './jsonDocument';

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

export type SignatureAlgorithm = 'MD5' | 'SHA1' | 'SHA256' | 'SHA512';

/** box.json resolved to what the built-in compiler needs. Paths are relative to `basePath` unless said otherwise. */
export interface BoxConfig {
  /** Absolute path of box.json / box.json.dist, or undefined when the project has none (all defaults). */
  file?: string;
  /** Absolute. */
  basePath: string;
  /** The main script, or false (a custom stub runs the app). */
  main: string | false;
  /** True when `main` was not written in box.json (default index.php / composer bin). */
  mainIsDefault: boolean;
  /** Where box writes the phar (absolute). The built-in compiler writes to the artifact store instead. */
  output: string;
  directories: string[];
  directoriesBin: string[];
  files: string[];
  filesBin: string[];
  finders: FinderSpec[];
  findersBin: FinderSpec[];
  /** True when neither directories nor finder is set (or force-autodiscovery): take every file of the base path. */
  autodiscovery: boolean;
  blacklist: string[];
  excludeComposerFiles: boolean;
  excludeDevFiles: boolean;
  /** true: generate a stub; false: Phar's default stub; string: a stub file (relative path). */
  stub: boolean | string;
  /** Banner text (lines joined with \n), already read from banner-file when that is set. */
  banner?: string;
  /** Alias for Phar::mapPhar; undefined = the output's file name. */
  alias?: string;
  shebang: string | false;
  intercept: boolean;
  compression: 'GZ' | 'NONE';
  algorithm: SignatureAlgorithm;
  /** box.json's metadata value, merged under the build's own fields. */
  metadata?: unknown;
  /** chmod of the built phar, e.g. 0o755. */
  chmod?: number;
  placeholders: PlaceholderConfig;
  /** Where a value is in box.json (undefined without box.json), for errors found later: a missing file, no git. */
  locate: (at: JSONPath) => SourceLocation | undefined;
}

/** Placeholder names (without sigils) that box.json asks to fill, plus literal replacements. */
export interface PlaceholderConfig {
  sigil: string;
  git?: string;
  gitCommit?: string;
  gitCommitShort?: string;
  gitTag?: string;
  gitVersion?: string;
  datetime?: string;
  datetimeFormat: string;
  replacements: Record<string, string>;
}

export const BOX_CONFIG_FILES = ['box.json', 'box.json.dist'];
export const DEFAULT_DATETIME_FORMAT = 'Y-m-d H:i:s T';

/** Hint shown with every key the built-in compiler refuses. */
export const INSTALL_BOX_HINT = 'remove it, or install box (vendor/bin/box, PATH, or the pharRollout.boxPath setting)';

type Kind = 'string' | 'boolean' | 'stringList' | 'stringOrList' | 'finder' | 'any' | 'object';

/** Every key the built-in compiler understands, with the JSON type box documents for it. */
const SUPPORTED: Record<string, Kind> = {
  $schema: 'any',
  algorithm: 'string',
  alias: 'string',
  banner: 'any',
  'banner-file': 'string',
  'base-path': 'string',
  blacklist: 'stringList',
  'check-requirements': 'boolean',
  chmod: 'string',
  compression: 'string',
  datetime: 'string',
  'datetime-format': 'string',
  directories: 'stringList',
  'directories-bin': 'stringList',
  'dump-autoload': 'boolean',
  'exclude-composer-files': 'boolean',
  'exclude-dev-files': 'boolean',
  files: 'stringList',
  'files-bin': 'stringList',
  finder: 'finder',
  'finder-bin': 'finder',
  'force-autodiscovery': 'boolean',
  git: 'string',
  'git-commit': 'string',
  'git-commit-short': 'string',
  'git-tag': 'string',
  'git-version': 'string',
  intercept: 'boolean',
  main: 'any',
  metadata: 'any',
  output: 'string',
  'replacement-sigil': 'string',
  replacements: 'object',
  shebang: 'any',
  stub: 'any',
};

const FINDER_METHODS: Record<string, 'stringOrList' | 'boolean'> = {
  in: 'stringOrList',
  name: 'stringOrList',
  notName: 'stringOrList',
  exclude: 'stringOrList',
  path: 'stringOrList',
  notPath: 'stringOrList',
  ignoreDotFiles: 'boolean',
  ignoreVCS: 'boolean',
};

/** Finds box.json, else box.json.dist, in `projectDir` (or the explicit file); undefined when there is none. */
export async function findBoxConfigFile(projectDir: string, explicit?: string): Promise<string | undefined> {
  if (explicit) return path.resolve(projectDir, explicit);
  for (const name of BOX_CONFIG_FILES) {
    const file = path.join(projectDir, name);
    try {
      if ((await fs.stat(file)).isFile()) return file;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

export interface ParseBoxConfigOptions {
  /** Folder of the project; the base path defaults to box.json's folder, or this without box.json. */
  projectDir: string;
  /**
   * true (the built-in compiler): refuse every key it does not implement, by name.
   * false (box compiles): only check the keys this extension reads itself (output, base-path, main).
   */
  strict: boolean;
  /** composer.json's first `bin`, box's default main. */
  composerBin?: string;
  /** Contents of banner-file, read by the caller (keeps this function free of I/O). */
  readFile?: (absolutePath: string) => string | undefined;
}

/**
 * Parses and validates box.json text. Throws InputErrors (every problem, each with line and column).
 * With `strict`, any key the built-in compiler does not implement is refused by name.
 */
export function parseBoxConfig(file: string, text: string, options: ParseBoxConfigOptions): BoxConfig {
  const doc = JsonDocument.parse(file, text);
  const raw = doc.value();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputErrors([
      doc.error([], 'box.json must hold a JSON object', 'See https://github.com/box-project/box/blob/main/doc/configuration.md'),
    ]);
  }
  return resolveBoxConfig(raw as Record<string, unknown>, { ...options, file, doc });
}

/** The configuration box uses when a project has no box.json. */
export function defaultBoxConfig(projectDir: string, composerBin?: string): BoxConfig {
  return resolveBoxConfig({}, { projectDir, strict: true, composerBin });
}

/** Reads box.json / box.json.dist (or `explicit`) from `projectDir`; defaults when there is none. */
export async function readBoxConfig(
  projectDir: string,
  options: Omit<ParseBoxConfigOptions, 'projectDir' | 'readFile'> & { explicit?: string },
): Promise<BoxConfig> {
  const file = await findBoxConfigFile(projectDir, options.explicit);
  if (!file) return defaultBoxConfig(projectDir, options.composerBin);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new InputErrors([
      new InputError(`Cannot read ${path.basename(file)}: ${(err as Error).message}`, {
        location: { file, line: 1, column: 1 },
        hint: 'Check the "build.config" path in rollout.json.',
      }),
    ]);
  }
  // banner-file is the only key whose value names a file to read while parsing.
  const bannerFiles = new Map<string, string | undefined>();
  let raw: unknown;
  try {
    raw = JsonDocument.parse(file, text).value();
  } catch {
    // parseBoxConfig below reports the syntax errors
  }
  if (typeof raw === 'object' && raw !== null) {
    const r = raw as Record<string, unknown>;
    if (typeof r['banner-file'] === 'string') {
      const base = typeof r['base-path'] === 'string' ? path.resolve(path.dirname(file), r['base-path']) : path.dirname(file);
      const abs = path.resolve(base, r['banner-file']);
      bannerFiles.set(abs, await fs.readFile(abs, 'utf8').catch(() => undefined));
    }
  }
  return parseBoxConfig(file, text, { ...options, projectDir, readFile: (p) => bannerFiles.get(p) });
}

interface ResolveContext extends ParseBoxConfigOptions {
  file?: string;
  doc?: JsonDocument;
}

function resolveBoxConfig(raw: Record<string, unknown>, ctx: ResolveContext): BoxConfig {
  const errors: InputError[] = [];
  const { doc } = ctx;
  const err = (p: JSONPath, message: string, hint?: string, key = false) => {
    if (doc) errors.push(doc.error(p, message, hint, { key }));
    else errors.push(new InputError(message, { hint }));
  };
  // null means "default" for every box setting.
  const has = (key: string) => raw[key] !== undefined && raw[key] !== null;

  for (const key of Object.keys(raw)) {
    const kind = SUPPORTED[key];
    if (!kind) {
      if (ctx.strict) err([key], `box.json key "${key}" is not supported by the built-in compiler`, INSTALL_BOX_HINT, true);
      continue;
    }
    if (!has(key)) continue;
    if (!ctx.strict && !['output', 'base-path', 'main'].includes(key)) continue;
    checkKind(raw[key], kind, [key], err);
  }
  if (ctx.strict) {
    if (raw['check-requirements'] === true) {
      err(
        ['check-requirements'],
        'box.json "check-requirements": true is not supported by the built-in compiler (it adds no requirement checker)',
        'set it to false, ' + INSTALL_BOX_HINT.replace('remove it, or ', 'or '),
      );
    }
    if (typeof raw.metadata === 'string' && raw.metadata.includes('::')) {
      err(
        ['metadata'],
        'box.json "metadata" as a PHP callable is not supported by the built-in compiler',
        'write the metadata value itself, or install box',
      );
    }
  }

  const basePath =
    typeof raw['base-path'] === 'string'
      ? path.resolve(ctx.file ? path.dirname(ctx.file) : ctx.projectDir, raw['base-path'])
      : ctx.file
        ? path.dirname(ctx.file)
        : ctx.projectDir;

  // main: string | false | null (null: composer bin[0], else index.php).
  let main: string | false = ctx.composerBin ?? 'index.php';
  let mainIsDefault = true;
  if (raw.main === false) {
    main = false;
    mainIsDefault = false;
  } else if (typeof raw.main === 'string') {
    main = raw.main;
    mainIsDefault = false;
  } else if (has('main')) err(['main'], '"main" must be a path (string) or false', 'For example "bin/app.php".');
  if (typeof main === 'string') {
    const rel = relativeInside(basePath, main);
    if (rel === undefined) err(['main'], `"main" (${main}) is outside the base path ${basePath}`, 'Use a path inside the project.');
    else main = rel;
  }

  let output: string;
  if (typeof raw.output === 'string' && raw.output !== '') output = path.resolve(basePath, raw.output);
  else if (has('output')) {
    err(['output'], '"output" must be a non-empty path', 'For example "build/app.phar".');
    output = path.join(basePath, 'index.phar');
  } else {
    const m = typeof main === 'string' ? main : 'index.php';
    output = path.resolve(basePath, m.replace(/\.php$/, '') + '.phar');
  }

  const stringList = (key: string): string[] =>
    Array.isArray(raw[key]) ? (raw[key] as unknown[]).filter((v): v is string => typeof v === 'string') : [];
  const relList = (key: string): string[] =>
    stringList(key).map((p, i) => {
      const rel = relativeInside(basePath, p);
      if (rel === undefined) {
        if (ctx.strict)
          err([key, i], `"${key}" entry ${p} is outside the base path`, 'The built-in compiler only adds files below the base path.');
        return p;
      }
      return rel;
    });

  const finders = (key: string): FinderSpec[] => {
    if (!ctx.strict || !Array.isArray(raw[key])) return [];
    return (raw[key] as unknown[]).flatMap((entry, i) =>
      typeof entry === 'object' && entry !== null && !Array.isArray(entry)
        ? [finderSpec(entry as Record<string, unknown>, [key, i], basePath, err)]
        : [],
    );
  };

  let compression: 'GZ' | 'NONE' = 'NONE';
  if (typeof raw.compression === 'string') {
    const c = raw.compression.toUpperCase();
    if (c === 'GZ' || c === 'NONE') compression = c;
    else if (ctx.strict && c === 'BZ2')
      err(['compression'], 'box.json "compression": "BZ2" is not supported by the built-in compiler', 'use "GZ" or "NONE", or install box');
    else if (ctx.strict) err(['compression'], `"compression" must be "GZ" or "NONE", got ${JSON.stringify(raw.compression)}`);
  }

  let algorithm: SignatureAlgorithm = 'SHA256';
  if (typeof raw.algorithm === 'string') {
    const a = raw.algorithm.toUpperCase();
    if (a === 'MD5' || a === 'SHA1' || a === 'SHA256' || a === 'SHA512') algorithm = a;
    else if (ctx.strict)
      err(
        ['algorithm'],
        `box.json "algorithm": ${JSON.stringify(raw.algorithm)} is not supported by the built-in compiler`,
        'use "SHA256" (default), "SHA512", "SHA1" or "MD5", or install box for OpenSSL signing',
      );
  }

  let stub: boolean | string = true;
  if (typeof raw.stub === 'boolean') stub = raw.stub;
  else if (typeof raw.stub === 'string') {
    const rel = relativeInside(basePath, raw.stub);
    if (rel === undefined) err(['stub'], `"stub" (${raw.stub}) is outside the base path`);
    stub = rel ?? raw.stub;
  } else if (has('stub') && ctx.strict) err(['stub'], '"stub" must be true, false or the path of a stub file');

  let shebang: string | false = '#!/usr/bin/env php';
  if (raw.shebang === false) shebang = false;
  else if (typeof raw.shebang === 'string') {
    if (!raw.shebang.startsWith('#!') || raw.shebang.includes('\n')) {
      if (ctx.strict)
        err(
          ['shebang'],
          `"shebang" must be one line starting with "#!", got ${JSON.stringify(raw.shebang)}`,
          'For example "#!/usr/bin/env php", or false for none.',
        );
    } else shebang = raw.shebang;
  } else if (has('shebang') && ctx.strict) err(['shebang'], '"shebang" must be a string or false');

  let banner: string | undefined;
  if (typeof raw['banner-file'] === 'string') {
    const abs = path.resolve(basePath, raw['banner-file']);
    banner = ctx.readFile?.(abs);
    if (banner === undefined && ctx.strict)
      err(['banner-file'], `Cannot read the banner file ${raw['banner-file']}`, 'Check the path (relative to the base path).');
    banner = banner?.replace(/\s+$/, '');
  } else if (typeof raw.banner === 'string') banner = raw.banner;
  else if (Array.isArray(raw.banner)) {
    if (raw.banner.every((l) => typeof l === 'string')) banner = (raw.banner as string[]).join('\n');
    else if (ctx.strict) err(['banner'], '"banner" must be a string, a list of strings, or false');
  } else if (has('banner') && raw.banner !== false && ctx.strict) err(['banner'], '"banner" must be a string, a list of strings, or false');
  if (banner !== undefined && banner.includes('*/') && ctx.strict) {
    err(
      [typeof raw['banner-file'] === 'string' ? 'banner-file' : 'banner'],
      'The banner must not contain "*/"',
      'It is put inside a /* */ comment for you.',
    );
  }

  let chmod: number | undefined;
  if (typeof raw.chmod === 'string') {
    if (/^0?[0-7]{3}$/.test(raw.chmod)) chmod = parseInt(raw.chmod, 8);
    else if (ctx.strict) err(['chmod'], `"chmod" must be an octal mode such as "0755", got ${JSON.stringify(raw.chmod)}`);
  }

  if (typeof raw.alias === 'string' && ctx.strict && !/^[A-Za-z0-9_.-]+$/.test(raw.alias)) {
    err(['alias'], `"alias" must be a plain file name such as "app.phar", got ${JSON.stringify(raw.alias)}`);
  }

  const replacements: Record<string, string> = {};
  if (ctx.strict && typeof raw.replacements === 'object' && raw.replacements !== null && !Array.isArray(raw.replacements)) {
    for (const [k, v] of Object.entries(raw.replacements as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') replacements[k] = String(v);
      else err(['replacements', k], `Replacement "${k}" must be a string, number or boolean`);
    }
  }
  const sigil = typeof raw['replacement-sigil'] === 'string' ? raw['replacement-sigil'] : '@';
  if (sigil === '' && ctx.strict) err(['replacement-sigil'], '"replacement-sigil" must not be empty', 'The default is "@".');
  const str = (key: string) => (typeof raw[key] === 'string' && raw[key] !== '' ? (raw[key] as string) : undefined);

  const config: BoxConfig = {
    file: ctx.file,
    basePath,
    main,
    mainIsDefault,
    output,
    directories: ctx.strict ? relList('directories') : [],
    directoriesBin: ctx.strict ? relList('directories-bin') : [],
    files: ctx.strict ? relList('files') : [],
    filesBin: ctx.strict ? relList('files-bin') : [],
    finders: finders('finder'),
    findersBin: finders('finder-bin'),
    autodiscovery:
      raw['force-autodiscovery'] === true ||
      !['directories', 'directories-bin', 'finder', 'finder-bin'].some((k) => raw[k] !== undefined && raw[k] !== null),
    blacklist: ctx.strict ? relList('blacklist') : [],
    excludeComposerFiles: raw['exclude-composer-files'] !== false,
    excludeDevFiles: raw['exclude-dev-files'] !== false && raw['dump-autoload'] !== false,
    stub,
    banner,
    alias: str('alias'),
    shebang,
    intercept: raw.intercept === true,
    compression,
    algorithm,
    metadata: raw.metadata === null ? undefined : raw.metadata,
    chmod,
    placeholders: {
      sigil: sigil || '@',
      git: str('git'),
      gitCommit: str('git-commit'),
      gitCommitShort: str('git-commit-short'),
      gitTag: str('git-tag'),
      gitVersion: str('git-version'),
      datetime: str('datetime'),
      datetimeFormat: str('datetime-format') ?? DEFAULT_DATETIME_FORMAT,
      replacements,
    },
    locate: (at) => doc?.locationOf(at),
  };
  if (errors.length) throw new InputErrors(errors);
  return config;
}

function finderSpec(
  entry: Record<string, unknown>,
  at: JSONPath,
  basePath: string,
  err: (p: JSONPath, m: string, h?: string, key?: boolean) => void,
): FinderSpec {
  const list = (key: string): string[] => {
    const v = entry[key];
    if (typeof v === 'string') return [v];
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
    return [];
  };
  for (const [key, value] of Object.entries(entry)) {
    const kind = FINDER_METHODS[key];
    if (!kind) {
      err(
        [...at, key],
        `box.json finder method "${key}" is not supported by the built-in compiler`,
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
    if (rel === undefined) err(Array.isArray(entry.in) ? [...at, 'in', i] : [...at, 'in'], `Finder folder ${d} is outside the base path`);
    return rel ?? d;
  });
  for (const key of ['name', 'notName', 'path', 'notPath']) {
    list(key).forEach((pattern, i) => {
      const problem = patternProblem(pattern);
      if (problem)
        err([...at, key, ...(Array.isArray(entry[key]) ? [i] : [])], `Finder ${key} pattern ${JSON.stringify(pattern)}: ${problem}`);
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

function checkKind(value: unknown, kind: Kind | 'stringOrList', at: JSONPath, err: (p: JSONPath, m: string, h?: string) => void): void {
  const name = `"${at.filter((p) => typeof p === 'string').join('.')}"`;
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') err(at, `${name} must be a string, got ${typeName(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') err(at, `${name} must be true or false, got ${typeName(value)}`);
      break;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) err(at, `${name} must be an object, got ${typeName(value)}`);
      break;
    case 'stringList':
      if (!Array.isArray(value)) err(at, `${name} must be a list of strings, got ${typeName(value)}`, 'For example ["src", "config"].');
      else value.forEach((v, i) => typeof v !== 'string' && err([...at, i], `${name} entries must be strings, got ${typeName(v)}`));
      break;
    case 'stringOrList':
      if (typeof value === 'string') break;
      if (!Array.isArray(value)) err(at, `${name} must be a string or a list of strings, got ${typeName(value)}`);
      else value.forEach((v, i) => typeof v !== 'string' && err([...at, i], `${name} entries must be strings, got ${typeName(v)}`));
      break;
    case 'finder':
      if (!Array.isArray(value))
        err(at, `${name} must be a list of finder objects, got ${typeName(value)}`, 'For example [{ "in": "src", "name": "*.php" }].');
      else
        value.forEach(
          (v, i) =>
            (typeof v !== 'object' || v === null || Array.isArray(v)) &&
            err([...at, i], `${name} entries must be objects, got ${typeName(v)}`),
        );
      break;
    case 'any':
      break;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** `p` relative to `base` with "/" separators, or undefined when it leaves `base`. */
export function relativeInside(base: string, p: string): string | undefined {
  const rel = path.relative(base, path.resolve(base, p)).split(path.sep).join('/');
  if (rel === '' || rel === '.') return '.';
  if (rel.startsWith('../') || rel === '..' || path.isAbsolute(rel)) return undefined;
  return rel;
}

/** Why a finder pattern cannot be used, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (!isRegex(pattern)) return undefined;
  try {
    toJsRegex(pattern);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Where the delimited part of a PHP regex ends (trailing modifier letters excluded), or -1 when `s` is no regex. */
function regexBodyEnd(s: string): number {
  // Symfony Finder's isRegex: the shortest prefix of 3+ chars followed only by modifiers, with matching delimiters.
  let end = s.length;
  while (end > 3 && 'imsxuADUn'.includes(s[end - 1])) end--;
  if (end < 3) return -1;
  const start = s[0];
  const last = s[end - 1];
  if (start === last) return /[*?A-Za-z0-9 \\]/.test(start) ? -1 : end;
  const pairs: Record<string, string> = { '{': '}', '(': ')', '[': ']', '<': '>' };
  return pairs[start] === last ? end : -1;
}

/** Symfony Finder's test: a string delimited like a PHP regex ("/x/i", "#x#", "{x}") is a regex, anything else a glob. */
export function isRegex(s: string): boolean {
  return regexBodyEnd(s) !== -1;
}

/** Converts a PHP (PCRE) regex string "/x/i" to a JavaScript RegExp; throws with a reason when it cannot. */
export function toJsRegex(s: string): RegExp {
  const end = regexBodyEnd(s);
  if (end === -1) throw new Error('not a delimited regex');
  const inner = s.slice(1, end - 1);
  let flags = '';
  for (const m of s.slice(end)) {
    if ('imsu'.includes(m)) {
      if (!flags.includes(m)) flags += m;
    } else if (m !== 'D' && m !== 'n') throw new Error(`the regex modifier "${m}" is not supported`);
  }
  try {
    return new RegExp(inner, flags);
  } catch (e) {
    throw new Error(`invalid regex (${(e as Error).message})`, { cause: e });
  }
}

/** Symfony Finder's glob: "*" and "?" stay within one path segment, {a,b} alternates, [..] is a class. */
export function globToRegex(glob: string): RegExp {
  let re = '';
  let inBraces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      inBraces++;
      re += '(?:';
    } else if (c === '}' && inBraces > 0) {
      inBraces--;
      re += ')';
    } else if (c === ',' && inBraces > 0) re += '|';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escapeRegex(glob[++i]);
    } else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A name/path matcher as Symfony Finder builds it: regexes as written, globs anchored, plain path strings as substrings. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  const re = isRegex(pattern) ? toJsRegex(pattern) : globToRegex(pattern);
  return (name) => re.test(name);
}

export function pathMatcher(pattern: string): (relPath: string) => boolean {
  if (isRegex(pattern)) {
    const re = toJsRegex(pattern);
    return (p) => re.test(p);
  }
  return (p) => p.includes(pattern);
}
