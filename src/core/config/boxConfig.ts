import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { JSONPath } from 'jsonc-parser';
import { InputError, InputErrors } from '../errors';
import type { SourceLocation } from '../errors';
import { finderSpec } from './boxFinder';
import type { FinderSpec } from './boxFinder';
import { checkKind, relativeInside } from './boxValues';
import type { Kind } from './boxValues';
import { JsonDocument } from './jsonDocument';
import { quoted } from '../safeText';

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
  /** Where box writes the phar (absolute). The built-in compiler stores it in the artifact store, then copies it here when `outputIsSet`. */
  output: string;
  /** True when box.json names `output` itself (not box's default). */
  outputIsSet: boolean;
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

/** Every key the built-in compiler understands, with the JSON type box documents for it. */
const SUPPORTED: Readonly<Record<string, Kind>> = {
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
      // Never read a file outside the base path (parseBoxConfig refuses such a banner-file).
      if (relativeInside(base, r['banner-file']) !== undefined) {
        const abs = path.resolve(base, r['banner-file']);
        bannerFiles.set(abs, await fs.readFile(abs, 'utf8').catch(() => undefined));
      }
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
    // Own properties only: "__proto__", "constructor" or "toString" must not pass through Object.prototype.
    const kind = Object.hasOwn(SUPPORTED, key) ? SUPPORTED[key] : undefined;
    if (!kind) {
      if (ctx.strict) err([key], `box.json key ${quoted(key)} is not supported by the built-in compiler`, INSTALL_BOX_HINT, true);
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

  // Every path key is confined to the base path, so the base path itself must stay in the project.
  if (ctx.strict && relativeInside(ctx.projectDir, basePath) === undefined) {
    err(
      has('base-path') ? ['base-path'] : [],
      `The base path ${quoted(basePath)} is outside the project ${ctx.projectDir}`,
      'The built-in compiler only adds files of the project; or install box.',
    );
  }

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
    if (rel === undefined) err(['main'], `"main" (${quoted(main)}) is outside the base path ${basePath}`, 'Use a path inside the project.');
    else main = rel;
  }

  let output: string;
  if (typeof raw.output === 'string' && raw.output !== '') {
    output = path.resolve(basePath, raw.output);
    // The built-in compiler writes the phar there too: only inside the base path, never into .git or .rollout.
    const rel = relativeInside(basePath, raw.output);
    if (ctx.strict && (rel === undefined || rel === '.' || /^(\.git|\.rollout)(\/|$)/.test(rel)))
      err(
        ['output'],
        `"output" (${quoted(raw.output)}) must be a file inside the base path ${basePath}, outside .git and .rollout`,
        'For example "build/app.phar"; or install box.',
      );
  } else if (has('output')) {
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
          err(
            [key, i],
            `"${key}" entry ${quoted(p)} is outside the base path`,
            'The built-in compiler only adds files below the base path.',
          );
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
    else if (ctx.strict) err(['compression'], `"compression" must be "GZ" or "NONE", got ${quoted(raw.compression)}`);
  }

  let algorithm: SignatureAlgorithm = 'SHA256';
  if (typeof raw.algorithm === 'string') {
    const a = raw.algorithm.toUpperCase();
    if (a === 'MD5' || a === 'SHA1' || a === 'SHA256' || a === 'SHA512') algorithm = a;
    else if (ctx.strict)
      err(
        ['algorithm'],
        `box.json "algorithm": ${quoted(raw.algorithm)} is not supported by the built-in compiler`,
        'use "SHA256" (default), "SHA512", "SHA1" or "MD5", or install box for OpenSSL signing',
      );
  }

  let stub: boolean | string = true;
  if (typeof raw.stub === 'boolean') stub = raw.stub;
  else if (typeof raw.stub === 'string') {
    const rel = relativeInside(basePath, raw.stub);
    if (rel === undefined) err(['stub'], `"stub" (${quoted(raw.stub)}) is outside the base path`);
    stub = rel ?? raw.stub;
  } else if (has('stub') && ctx.strict) err(['stub'], '"stub" must be true, false or the path of a stub file');

  let shebang: string | false = '#!/usr/bin/env php';
  if (raw.shebang === false) shebang = false;
  else if (typeof raw.shebang === 'string') {
    if (!raw.shebang.startsWith('#!') || raw.shebang.includes('\n')) {
      if (ctx.strict)
        err(
          ['shebang'],
          `"shebang" must be one line starting with "#!", got ${quoted(raw.shebang)}`,
          'For example "#!/usr/bin/env php", or false for none.',
        );
    } else shebang = raw.shebang;
  } else if (has('shebang') && ctx.strict) err(['shebang'], '"shebang" must be a string or false');

  let banner: string | undefined;
  if (typeof raw['banner-file'] === 'string') {
    const abs = path.resolve(basePath, raw['banner-file']);
    // Confined like every path key: a banner-file such as /etc/passwd would put a host file in the stub.
    if (relativeInside(basePath, raw['banner-file']) === undefined)
      err(
        ['banner-file'],
        `"banner-file" (${quoted(raw['banner-file'])}) is outside the base path ${basePath}`,
        'Use a file inside the project.',
      );
    else banner = ctx.readFile?.(abs);
    if (banner === undefined && ctx.strict && relativeInside(basePath, raw['banner-file']) !== undefined)
      err(['banner-file'], `Cannot read the banner file ${quoted(raw['banner-file'])}`, 'Check the path (relative to the base path).');
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
    else if (ctx.strict) err(['chmod'], `"chmod" must be an octal mode such as "0755", got ${quoted(raw.chmod)}`);
  }

  if (typeof raw.alias === 'string' && ctx.strict && !/^[A-Za-z0-9_.-]+$/.test(raw.alias)) {
    err(['alias'], `"alias" must be a plain file name such as "app.phar", got ${quoted(raw.alias)}`);
  }

  const replacements: Record<string, string> = {};
  if (ctx.strict && typeof raw.replacements === 'object' && raw.replacements !== null && !Array.isArray(raw.replacements)) {
    for (const [k, v] of Object.entries(raw.replacements as Record<string, unknown>)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') replacements[k] = String(v);
      else err(['replacements', k], `Replacement ${quoted(k)} must be a string, number or boolean`);
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
    outputIsSet: typeof raw.output === 'string' && raw.output !== '',
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
