import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
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

/** Options of {@link hashProjectFiles}. */
export interface HashProjectOptions {
  /** Absolute paths never hashed (box's output phar). */
  exclude?: string[];
  /** Hash `vendor/` too: when composer does not run, it is a source like any other. */
  hashVendor?: boolean;
  signal?: AbortSignal;
  /**
   * A stat cache (`.rollout/file-hashes.json`): files whose size, mtime, ctime, inode, device and mode are
   * unchanged since it was written keep their recorded sha256; only the others are read. Absent: hash everything.
   */
  cacheFile?: string;
  /** Called with how many files were read and hashed (the rest came from the cache), for profiling and tests. */
  onStats?: (stats: { files: number; hashed: number }) => void;
}

/** Bump when the cache's layout or the meaning of its digests changes. */
const CACHE_FORMAT = 1;

/** One cached file: its stat as git's index records it (nanosecond times as decimal strings) and its digest. */
type StatKey = [size: string, mtimeNs: string, ctimeNs: string, ino: string, dev: string, mode: string];
type CacheEntry = [...StatKey, sha256: string];

interface StatCache {
  entries: Map<string, CacheEntry>;
  /** mtime (ns) of the cache file itself: entries changed at or after it are "racy" and re-hashed. */
  writtenNs: bigint;
}

async function loadCache(file: string): Promise<StatCache> {
  const empty: StatCache = { entries: new Map(), writtenNs: 0n };
  try {
    const stat = await fs.stat(file, { bigint: true });
    const raw = JSON.parse(await fs.readFile(file, 'utf8')) as { format?: unknown; files?: unknown };
    if (raw.format !== CACHE_FORMAT || typeof raw.files !== 'object' || raw.files === null) return empty;
    const entries = new Map<string, CacheEntry>();
    for (const [rel, entry] of Object.entries(raw.files as Record<string, unknown>)) {
      if (Array.isArray(entry) && entry.length === 7 && entry.every((v) => typeof v === 'string')) entries.set(rel, entry as CacheEntry);
    }
    return { entries, writtenNs: stat.mtimeNs };
  } catch {
    return empty; // no cache yet, or unreadable: hash everything
  }
}

function statKey(st: BigIntStats): StatKey {
  return [String(st.size), String(st.mtimeNs), String(st.ctimeNs), String(st.ino), String(st.dev), String(st.mode)];
}

async function saveCache(file: string, entries: Map<string, CacheEntry>): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, JSON.stringify({ format: CACHE_FORMAT, files: Object.fromEntries(entries) }));
    await fs.rename(tmp, file);
  } catch {
    await fs.rm(tmp, { force: true }).catch(() => undefined); // a cache that cannot be written only costs time
  }
}

/**
 * Every file of the project with its sha256, except `.git` (at any depth), `.rollout/`, `vendor/` (unless `hashVendor`)
 * and the absolute paths in `exclude` (box's output phar). A symlink counts by its target text and, when that is a file,
 * the file's contents (the phar holds them, and a target outside the project is hashed nowhere else); it is never cached.
 *
 * With `cacheFile`, a file is read only when its stat differs from the cache's record, or when its mtime or ctime
 * is not older than the cache file itself (git's "racy" case: an edit within the same timestamp tick as the cache
 * write would keep every stat field), so the answer is the same as hashing every file.
 */
export async function hashProjectFiles(
  projectDir: string,
  options: HashProjectOptions = {},
): Promise<Array<{ path: string; sha256: string }>> {
  const { files, saveCache } = await hashProjectFilesFirst(projectDir, options);
  await saveCache();
  return files;
}

/**
 * {@link hashProjectFiles} that leaves writing the stat cache to the caller (`saveCache`, a no-op when nothing
 * changed), so a build that turns out to be refused writes nothing.
 */
export async function hashProjectFilesFirst(
  projectDir: string,
  options: HashProjectOptions = {},
): Promise<{ files: Array<{ path: string; sha256: string }>; saveCache: () => Promise<void> }> {
  const root = path.resolve(projectDir);
  const excluded = new Set((options.exclude ?? []).map((p) => path.resolve(p)));
  const files: Array<{ rel: string; abs: string; link: boolean }> = [];
  const walk = async (abs: string, rel: string) => {
    throwIfAborted(options.signal);
    const dirents = await fs.readdir(abs, { withFileTypes: true });
    const subdirs: Array<Promise<void>> = [];
    for (const d of dirents) {
      const childAbs = path.join(abs, d.name);
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      if (excluded.has(childAbs)) continue;
      if (d.name === '.git') continue;
      if (!rel && UNHASHED_TOP_DIRS.includes(d.name) && !(d.name === 'vendor' && options.hashVendor)) continue;
      if (d.isSymbolicLink()) files.push({ rel: childRel, abs: childAbs, link: true });
      else if (d.isDirectory()) subdirs.push(walk(childAbs, childRel));
      else if (d.isFile()) files.push({ rel: childRel, abs: childAbs, link: false });
    }
    await Promise.all(subdirs);
  };
  await walk(root, '');
  const cache = options.cacheFile ? await loadCache(options.cacheFile) : undefined;
  const fresh = new Map<string, CacheEntry>();
  const out: Array<{ path: string; sha256: string }> = new Array(files.length);
  // Which files to read: all without a cache; with one, those whose stat is not the recorded one or is racy.
  const todo: Array<{ i: number; key?: StatKey }> = [];
  for (let i = 0; i < files.length; i++) {
    // A symlink's own stat does not change when its target's contents do: always read it.
    if (!cache || files[i].link) {
      todo.push({ i });
      continue;
    }
    // Synchronous lstat is several times faster than fs.promises here; yield now and then to stay responsive.
    if (i % 1000 === 999) {
      await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(options.signal);
    }
    // Stat before reading: an edit between the two then shows as a changed stat next time.
    const st = lstatSync(files[i].abs, { bigint: true });
    const key = statKey(st);
    const known = cache.entries.get(files[i].rel);
    const racy = st.mtimeNs >= cache.writtenNs || st.ctimeNs >= cache.writtenNs;
    if (known && !racy && key.every((v, k) => v === known[k])) {
      out[i] = { path: files[i].rel, sha256: known[6] };
      fresh.set(files[i].rel, known);
    } else todo.push({ i, key });
  }
  // Synchronous reads, yielding now and then: for many small files fs.promises.readFile is several times slower
  // (four thread-pool round trips per file). Large files are read asynchronously.
  let sinceYield = 0;
  for (const { i, key } of todo) {
    if (sinceYield > 8 * 1024 * 1024) {
      await new Promise((resolve) => setImmediate(resolve));
      throwIfAborted(options.signal);
      sinceYield = 0;
    }
    const f = files[i];
    let digest: string;
    let settled = true;
    if (f.link) {
      const target = readlinkSync(f.abs);
      let content = '';
      try {
        // A dangling or looping link, or one to a folder (never followed), counts by its text alone.
        if (statSync(f.abs).isFile()) content = sha256(readFileSync(f.abs));
      } catch {
        content = '';
      }
      digest = sha256(content ? `symlink:${target}\0${content}` : `symlink:${target}`);
    } else {
      const size = key ? Number(key[0]) : lstatSync(f.abs).size;
      const data = size > 4 * 1024 * 1024 ? await fs.readFile(f.abs) : readFileSync(f.abs);
      digest = sha256(data);
      sinceYield += data.length + 4096;
      settled = key !== undefined && String(data.length) === key[0]; // being written right now: do not remember it
    }
    out[i] = { path: f.rel, sha256: digest };
    if (key && settled) fresh.set(f.rel, [...key, digest]);
  }
  options.onStats?.({ files: files.length, hashed: todo.length });
  const cacheFile = options.cacheFile;
  const changed =
    cache !== undefined && cacheFile !== undefined && (todo.some(({ i }) => !files[i].link) || fresh.size !== cache.entries.size);
  return {
    files: out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    saveCache: () => (changed ? saveCache(cacheFile, fresh) : Promise.resolve()),
  };
}
