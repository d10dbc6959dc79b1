import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { JSONPath } from 'jsonc-parser';
import { readBoxConfig } from '../config/boxConfig';
import type { BoxConfig } from '../config/boxConfig';
import { readComposerJson } from '../config/composerJson';
import type { ComposerInfo } from '../config/composerJson';
import { JsonDocument } from '../config/jsonDocument';
import { DEFAULT_COMPOSER_ARGS, readRolloutConfig } from '../config/rolloutConfig';
import type { RolloutConfig } from '../config/rolloutConfig';
import { InputError, InputErrors, OperationError, inputErrorsOf, throwIfAborted } from '../errors';
import { readGitInfo } from '../git/git';
import type { GitInfo } from '../git/git';
import type { Logger } from '../log';
import { ROLLOUT_DIR } from './artifact';
import type { Artifact, ArtifactManifest } from './artifact';
import { artifactId, createStaging, findArtifactByInputsHash, sha256File } from './artifactStore';
import { boxIdentity, boxVersion, findBox, runBoxCompile } from './boxRunner';
import type { BoxInvocation } from './boxRunner';
import { compileBuiltin, generateStub } from './builtinCompiler';
import type { CompilePlan } from './builtinCompiler';
import { autoloaderSuffixWarning, runComposer } from './composer';
import { selectFiles } from './fileSelection';
import type { PharEntry, SelectionProblem } from './fileSelection';
import { computeInputsHash, hashProjectFilesFirst, sha256 } from './inputsHash';
import { placeholderValues } from './placeholders';
import { quoted } from '../safeText';

/** The stat cache of project file digests, in `.rollout/` (see hashProjectFiles). */
export const FILE_HASHES = 'file-hashes.json';

export interface BuildOptions {
  projectDir: string;
  /** Absolute path of php/compile.php (shipped with the extension). */
  compilerScript: string;
  log: Logger;
  signal?: AbortSignal;
  /** The pharRollout.boxPath setting: an explicit box (or box.phar) path. */
  boxPath?: string;
  /** auto (default): box when found, else built-in; builtin: never box; box: fail without box. */
  builder?: 'auto' | 'builtin' | 'box';
  /** Overrides rollout.json's build.composer (default install --no-dev --optimize-autoloader). [] skips composer. */
  composerArgs?: string[];
  /** Build even when an artifact of the same inputs is stored. */
  force?: boolean;
  /** Progress for a UI: a message and an optional increment (all increments add up to 100). */
  onProgress?: (message: string, increment?: number) => void;
  /** Environment (SOURCE_DATE_EPOCH); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Which compiler a build uses: the caller's `builder` (--builtin, the setting), then rollout.json
 * `build.box`, then the `boxPath` setting, then box where installed, else the built-in compiler.
 * Reads files only (no process), so the extension can show the choice in any workspace.
 * `missing` says which explicit box path does not exist, or that box was required and not found.
 */
export async function chooseCompiler(
  projectDir: string,
  options: { builder?: 'auto' | 'builtin' | 'box'; boxPath?: string; rolloutBox?: string },
): Promise<{ mode: 'builtin' | 'box'; box?: BoxInvocation; missing?: 'rollout' | 'setting' | 'required' }> {
  const requested = options.builder ?? 'auto';
  const rolloutBox = options.rolloutBox ?? 'auto';
  if (requested === 'builtin' || (requested === 'auto' && rolloutBox === 'builtin')) return { mode: 'builtin' };
  let box: BoxInvocation | undefined;
  let missing: 'rollout' | 'setting' | 'required' | undefined;
  if (rolloutBox !== 'auto' && rolloutBox !== 'builtin') {
    box = await findBox(projectDir, rolloutBox);
    if (!box) missing = 'rollout';
  } else if (options.boxPath) {
    box = await findBox(projectDir, options.boxPath);
    if (!box) missing = 'setting';
  } else box = await findBox(projectDir);
  if (box) return { mode: 'box', box };
  return { mode: 'builtin', missing: missing ?? (requested === 'box' ? 'required' : undefined) };
}

export interface BuildResult {
  artifact: Artifact;
  /** True when an artifact of identical inputs was already stored and nothing ran. */
  upToDate: boolean;
}

/** Everything the build decided before running anything: the result of reading the project. */
export interface BuildContext {
  projectDir: string;
  app: string;
  version: string;
  commit: string;
  commitTime: string;
  git: GitInfo;
  composer: ComposerInfo;
  rollout?: RolloutConfig;
  boxConfig: BoxConfig;
  composerArgs: string[];
  mode: 'builtin' | 'box';
  box?: BoxInvocation;
  placeholders: Record<string, string>;
  /** Stub text for the built-in compiler (generated or read), null for Phar's default stub. */
  stub: string | null;
  /** The phar's files when already selected here (composer skipped, so nothing changes them before compiling). */
  selection?: PharEntry[];
}

/**
 * Builds the project's phar into the artifact store: reads composer.json, rollout.json and box.json
 * (all problems reported together as InputErrors, before anything runs or is written), runs composer,
 * compiles with box or the built-in compiler, and stores `.rollout/artifacts/<id>/`. When an intact
 * artifact of identical inputs is stored (and not `force`), returns it with `upToDate` without running
 * composer or php. Cancellation (CancelledError) and failures leave no artifact folder behind.
 */
export async function buildProject(options: BuildOptions): Promise<BuildResult> {
  const { log, signal } = options;
  const progress = (message: string, increment?: number) => options.onProgress?.(message, increment);
  throwIfAborted(signal);

  progress('Reading configuration', 5);
  // Hashing the inputs (file system) starts as soon as box.json says what to leave out, and runs while git
  // (processes) is read; its stat cache is written only once the build is not refused.
  let hashing: ReturnType<typeof hashProjectFilesFirst> | undefined;
  const startHashing = (boxConfig: BoxConfig, projectDir: string, composerArgs: string[]) => {
    hashing = hashProjectFilesFirst(projectDir, {
      exclude: [boxConfig.output],
      // With composer skipped, vendor/ is a source like any other (nothing rebuilds it from composer.lock).
      hashVendor: composerArgs.length === 0,
      signal,
      cacheFile: path.join(projectDir, ROLLOUT_DIR, FILE_HASHES),
    });
    hashing.catch(() => undefined); // awaited below; failures surface there
    return hashing;
  };
  let ctx: BuildContext;
  try {
    ctx = await readProject(options, startHashing);
  } catch (err) {
    await hashing?.catch(() => undefined);
    throw err;
  }
  if (!ctx.git.commit) {
    log.warn(
      `${ctx.projectDir} has no git commit: the artifact's commit is "unknown" and its build time ${ctx.commitTime} (set SOURCE_DATE_EPOCH to choose one)`,
    );
  }
  log.info(
    `Building ${ctx.app} ${ctx.version} (commit ${ctx.commit.slice(0, 12)}${ctx.git.dirty ? ', uncommitted changes' : ''}) with ${ctx.mode === 'box' ? `box (${ctx.box?.path})` : 'the built-in compiler'}`,
  );

  progress('Hashing inputs', 10);
  const [compilerText, { files, saveCache }, builderIdentity] = await Promise.all([
    ctx.mode === 'builtin' ? readCompiler(options.compilerScript) : '',
    hashing ?? startHashing(ctx.boxConfig, ctx.projectDir, ctx.composerArgs),
    ctx.mode === 'box' && ctx.box ? boxIdentity(ctx.box) : 'builtin',
  ]);
  const inputsHash = computeInputsHash({
    app: ctx.app,
    version: ctx.version,
    commit: ctx.commit,
    commitTime: ctx.commitTime,
    dirty: ctx.git.dirty,
    composerArgs: ctx.composerArgs,
    builder: builderIdentity,
    compiler: ctx.mode === 'builtin' ? sha256(compilerText) : '',
    files,
  });
  if (!options.force) {
    const existing = await findArtifactByInputsHash(ctx.projectDir, inputsHash);
    if (existing) {
      await saveCache();
      log.info(`Up to date: ${existing.id} (inputs unchanged; use --force to rebuild)`);
      if (ctx.mode === 'builtin') await writeBoxOutput(ctx.boxConfig, existing, log);
      progress(`Up to date: ${existing.id}`, 85);
      return { artifact: existing, upToDate: true };
    }
  }

  // The file selection (a walk of the phar's folders) is only needed now: an up-to-date build has the inputs
  // of a build whose selection was complete. Everything the phar needs, except what composer is about to write, must exist.
  if (ctx.mode === 'builtin') {
    const { entries, problems } = await selectFiles(ctx.boxConfig, { pending: ctx.composerArgs.length ? ['vendor'] : [], signal });
    if (problems.length) throw new InputErrors(problems.map((p) => selectionError(ctx.boxConfig, p)));
    // With composer skipped nothing changes the tree before compiling: this selection is the phar's.
    if (ctx.composerArgs.length === 0) ctx = { ...ctx, selection: entries };
  }
  await saveCache();

  throwIfAborted(signal);
  progress(ctx.composerArgs.length ? `composer ${ctx.composerArgs.join(' ')}` : 'composer skipped', 5);
  await runComposer(ctx.projectDir, ctx.composerArgs, { log, signal });
  if (ctx.composerArgs.length) {
    const warning = await autoloaderSuffixWarning(ctx.projectDir);
    if (warning) log.warn(warning);
  }
  progress('Compiling', 30);

  const staging = await createStaging(ctx.projectDir);
  try {
    const pharName = `${ctx.app}.phar`;
    const pharPath = path.join(staging.dir, pharName);
    let builder: string;
    if (ctx.mode === 'builtin') {
      const plan = await makePlan(ctx, pharPath, signal);
      await compileBuiltin(plan, { compilerScript: options.compilerScript, log, signal, onLine: (line) => progress(line) });
      builder = 'builtin';
    } else {
      const box = ctx.box as BoxInvocation;
      const defaults = ['box.json', 'box.json.dist'].map((n) => path.join(ctx.projectDir, n));
      const configFile = ctx.boxConfig.file && !defaults.includes(ctx.boxConfig.file) ? ctx.boxConfig.file : undefined;
      await runBoxCompile(box, ctx.projectDir, { log, signal, configFile, onLine: (line) => progress(line) });
      const stat = await fs.stat(ctx.boxConfig.output).catch(() => undefined);
      if (!stat?.isFile())
        throw new OperationError(`box compile finished but ${ctx.boxConfig.output} does not exist`, {
          step: 'box',
          file: ctx.boxConfig.output,
        });
      await fs.copyFile(ctx.boxConfig.output, pharPath);
      builder = `box ${await boxVersion(box, { signal })}`;
    }
    throwIfAborted(signal);
    progress('Storing the artifact', 45);
    if (ctx.boxConfig.chmod !== undefined) await fs.chmod(pharPath, ctx.boxConfig.chmod);
    const digest = await sha256File(pharPath);
    const size = (await fs.stat(pharPath)).size;
    const manifest: ArtifactManifest = {
      id: artifactId(ctx.version, ctx.commit, digest),
      app: ctx.app,
      version: ctx.version,
      commit: ctx.commit,
      commitTime: ctx.commitTime,
      sha256: digest,
      size,
      builder,
      inputsHash,
      builtAt: new Date().toISOString(),
      phar: pharName,
      dirty: ctx.git.dirty,
    };
    throwIfAborted(signal);
    const artifact = await staging.commit(manifest);
    log.info(`Built ${artifact.id}: ${artifact.pharPath} (${size} bytes, sha256 ${digest})`);
    if (ctx.mode === 'builtin') await writeBoxOutput(ctx.boxConfig, artifact, log);
    progress(`Built ${artifact.id}`, 5);
    return { artifact, upToDate: false };
  } finally {
    await staging.discard();
  }
}

/**
 * Reads and checks everything a build needs, running nothing but git and writing nothing.
 * Throws InputErrors listing every problem of composer.json, rollout.json and box.json.
 */
export function prepareBuild(options: BuildOptions): Promise<BuildContext> {
  return readProject(options);
}

/**
 * prepareBuild, calling `onBoxConfig` as soon as box.json is read (the build starts hashing then). With `onBoxConfig`
 * (a build) the file selection is left to the build unless other problems are reported: they come out together.
 */
async function readProject(
  options: BuildOptions,
  onBoxConfig?: (config: BoxConfig, projectDir: string, composerArgs: string[]) => void,
): Promise<BuildContext> {
  const projectDir = path.resolve(options.projectDir);
  const env = options.env ?? process.env;
  const errors: InputError[] = [];
  const attempt = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (err) {
      const located = inputErrorsOf(err);
      if (!located.length) throw err;
      errors.push(...located);
      return undefined;
    }
  };

  const composer = await attempt(() => readComposerJson(projectDir));
  const rollout = await attempt(() => readRolloutConfig(projectDir));
  const rolloutFile = path.join(projectDir, 'rollout.json');
  const rolloutError = async (at: JSONPath, message: string, hint?: string): Promise<InputError> => {
    try {
      return JsonDocument.parse(rolloutFile, await fs.readFile(rolloutFile, 'utf8')).error(at, message, hint);
    } catch {
      return new InputError(message, { location: { file: rolloutFile, line: 1, column: 1 }, hint });
    }
  };

  const { mode, box, missing } = await chooseCompiler(projectDir, {
    builder: options.builder,
    boxPath: options.boxPath,
    rolloutBox: rollout?.build.box,
  });
  if (missing === 'rollout') {
    errors.push(
      await rolloutError(
        ['build', 'box'],
        `box not found at ${path.resolve(projectDir, rollout!.build.box)}`,
        'Fix the path (relative to the project), or use "auto" or "builtin".',
      ),
    );
  } else if (missing === 'setting') {
    errors.push(
      new InputError(`The pharRollout.boxPath setting points to ${path.resolve(projectDir, options.boxPath!)}, which does not exist`, {
        hint: 'Fix the setting, or clear it to find box automatically.',
      }),
    );
  } else if (missing === 'required' && errors.length === 0) {
    errors.push(
      new InputError('box is required for this build but was not found', {
        hint: 'Install it (composer require --dev humbug/box), put box on PATH or box.phar in the project, or set pharRollout.boxPath.',
      }),
    );
  }

  const composerBin = composer ? await readComposerBin(composer.file) : undefined;
  const boxConfig = await attempt(() =>
    readBoxConfig(projectDir, { strict: mode === 'builtin', explicit: rollout?.build.config, composerBin }),
  );
  const composerArgs = options.composerArgs ?? rollout?.build.composer ?? DEFAULT_COMPOSER_ARGS;
  if (boxConfig) onBoxConfig?.(boxConfig, projectDir, composerArgs);

  // box's output is written into the project; it must not make the tree (and so the inputs) dirty.
  const outputRel = boxConfig ? path.relative(projectDir, boxConfig.output).split(path.sep).join('/') : undefined;
  const selectNow =
    boxConfig && mode === 'builtin'
      ? () => selectFiles(boxConfig, { pending: composerArgs.length ? ['vendor'] : [], signal: options.signal })
      : undefined;
  // git (processes) and the file selection (file system) do not depend on each other: run them together.
  // Everything the phar needs, except what composer is about to write, must exist now.
  const [git, selectedNow] = await Promise.all([
    readGitInfo(projectDir, {
      signal: options.signal,
      exclude: outputRel && !outputRel.startsWith('../') ? [outputRel] : [],
    }),
    onBoxConfig ? undefined : selectNow?.(),
  ]);
  let selection = selectedNow;
  const commit = git.commit ?? 'unknown';
  const commitTime = buildTime(env, git);
  const version = composer?.version ?? (git.latestTag ? git.latestTag.replace(/^v(?=\d)/, '') : undefined) ?? '0.0.0-dev';
  const app = rollout?.app ?? composer?.shortName ?? safeName(path.basename(projectDir));

  let placeholders: Record<string, string> = {};
  let stub: string | null = null;
  if (boxConfig && mode === 'builtin') {
    const locate = (at: JSONPath) => boxConfig.locate(at);
    const filled = placeholderValues(boxConfig.placeholders, { ...git, time: new Date(commitTime) });
    placeholders = filled.values;
    for (const p of filled.problems)
      errors.push(
        new InputError(`box.json "${p.key}" ${p.message}`, {
          location: locate([p.key]),
          hint: p.key.startsWith('git') ? 'Commit the project to git (and tag it for git-tag), or remove the key.' : undefined,
        }),
      );
    errors.push(...(selection?.problems ?? []).map((p) => selectionError(boxConfig, p)));
    const alias = boxConfig.alias ?? `${app}.phar`;
    if (boxConfig.stub === true) {
      stub = generateStub({
        alias,
        main: boxConfig.main,
        shebang: boxConfig.shebang,
        banner: boxConfig.banner,
        intercept: boxConfig.intercept,
      });
    } else if (typeof boxConfig.stub === 'string') {
      const text = await fs.readFile(path.resolve(boxConfig.basePath, boxConfig.stub), 'utf8').catch(() => undefined);
      // PHP and the Phar extension find the marker case-insensitively ("__halt_compiler();" works).
      if (text !== undefined && !text.toLowerCase().includes('__halt_compiler();')) {
        errors.push(
          new InputError(`The stub ${quoted(boxConfig.stub)} has no __HALT_COMPILER(); line`, {
            location: locate(['stub']),
            hint: 'A phar stub must end with __HALT_COMPILER(); ?>',
          }),
        );
      }
      // Phar::setStub finds the marker case-insensitively, but opening the phar later (Phar::mapPhar, phar://) looks
      // for it in upper case only: write the first one as "__HALT_COMPILER();" so the accepted stub also works.
      stub = text?.replace(/__halt_compiler\(\);/i, '__HALT_COMPILER();') ?? null;
    }
  }
  if (errors.length && !selection && selectNow) {
    selection = await selectNow();
    errors.push(...selection.problems.map((p) => selectionError(boxConfig as BoxConfig, p)));
  }
  if (errors.length) throw new InputErrors(errors);

  return {
    projectDir,
    app,
    version,
    commit,
    commitTime,
    git,
    composer: composer as ComposerInfo,
    rollout,
    boxConfig: boxConfig as BoxConfig,
    composerArgs,
    // With composer skipped nothing changes the tree before compiling: the selection made here is the phar's.
    selection: composerArgs.length === 0 ? selection?.entries : undefined,
    mode,
    box,
    placeholders,
    stub,
  };
}

/** The plan php/compile.php writes: files selected now that vendor/ exists. */
async function makePlan(ctx: BuildContext, output: string, signal?: AbortSignal): Promise<CompilePlan> {
  const config = ctx.boxConfig;
  const { entries, problems } = ctx.selection ? { entries: ctx.selection, problems: [] } : await selectFiles(config, { signal });
  if (problems.length) throw new InputErrors(problems.map((p) => selectionError(config, p)));
  const own: Record<string, unknown> = { app: ctx.app, version: ctx.version, commit: ctx.commit, commitTime: ctx.commitTime };
  if (ctx.git.dirty) own.dirty = true;
  const extra = config.metadata;
  // The build's own fields win: the version probe relies on them.
  const metadata =
    extra === undefined
      ? own
      : typeof extra === 'object' && extra !== null && !Array.isArray(extra)
        ? { ...(extra as Record<string, unknown>), ...own }
        : { ...own, metadata: extra };
  return {
    output,
    alias: config.alias ?? `${ctx.app}.phar`,
    stub: ctx.stub,
    defaultStubIndex: typeof config.main === 'string' ? config.main : null,
    files: entries,
    main: typeof config.main === 'string' ? config.main : null,
    placeholders: ctx.placeholders,
    compression: config.compression,
    algorithm: config.algorithm,
    metadata,
    timestamp: Math.floor(Date.parse(ctx.commitTime) / 1000),
  };
}

/**
 * Also writes the stored phar to box.json's `output` (as box would), for scripts that expect it there.
 * The artifact store stays the source of truth: the copy is written after it, replaced atomically, and skipped when identical.
 */
async function writeBoxOutput(config: BoxConfig, artifact: Artifact, log: Logger): Promise<void> {
  if (!config.outputIsSet) return;
  const output = config.output;
  const stat = await fs.stat(output).catch(() => undefined);
  if (stat?.isFile() && stat.size === artifact.size && (await sha256File(output)) === artifact.sha256) return;
  // Replace an earlier phar, never another file that happens to be there (an "output" naming a source file).
  if (stat && !(stat.isFile() && (await looksLikePhar(output)))) {
    throw new OperationError(`Built ${artifact.id}, but did not write box.json's output ${output}: something other than a phar is there`, {
      step: 'output',
      file: output,
    });
  }
  const tmp = `${output}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await fs.mkdir(path.dirname(output), { recursive: true });
    await fs.copyFile(artifact.pharPath, tmp);
    await fs.chmod(tmp, (await fs.stat(artifact.pharPath)).mode & 0o777);
    await fs.rename(tmp, output);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new OperationError(`Built ${artifact.id}, but cannot write box.json's output ${output}: ${(err as Error).message}`, {
      step: 'output',
      file: output,
      cause: err,
    });
  }
  log.info(`Wrote ${output} (box.json "output")`);
}

/** True when the file's first MiB holds a phar stub's end marker. */
async function looksLikePhar(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1024 * 1024), 0, 1024 * 1024, 0);
    return buffer.subarray(0, bytesRead).toString('latin1').toLowerCase().includes('__halt_compiler();');
  } finally {
    await handle.close();
  }
}

function selectionError(config: BoxConfig, p: SelectionProblem): InputError {
  return new InputError(p.message, { location: config.locate(p.at), hint: p.hint });
}

/** SOURCE_DATE_EPOCH, else the commit time, else the Unix epoch: never the wall clock. */
function buildTime(env: NodeJS.ProcessEnv, git: GitInfo): string {
  const epoch = env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString();
  return git.commitTime ?? new Date(0).toISOString();
}

async function readCompiler(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new OperationError(`The built-in compiler script is missing: ${file} (${(err as Error).message})`, { step: 'compile', file });
  }
}

/** composer.json's first `bin` entry: box's default main script. */
async function readComposerBin(file: string): Promise<string | undefined> {
  try {
    const raw = JSON.parse(await fs.readFile(file, 'utf8')) as { bin?: unknown };
    if (typeof raw.bin === 'string') return raw.bin;
    if (Array.isArray(raw.bin) && typeof raw.bin[0] === 'string') return raw.bin[0];
  } catch {
    // composer.json was already validated; a bin we cannot read means the default
  }
  return undefined;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'app';
}
