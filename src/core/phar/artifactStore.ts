import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Artifact, ArtifactManifest } from './artifact';
import { ARTIFACTS_DIR, ROLLOUT_DIR } from './artifact';

const MANIFEST = 'manifest.json';

/** `<project>/.rollout/artifacts`. */
export function artifactsDir(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, ARTIFACTS_DIR);
}

/** sha256 (hex) of a file, streamed. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Makes an artifact id safe as a folder name on any host: `<version>-<commit7>-<sha8>`. */
export function artifactId(version: string, commit: string, sha256: string): string {
  const safeVersion = version.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || '0.0.0';
  return `${safeVersion}-${commit.slice(0, 7)}-${sha256.slice(0, 8)}`;
}

/** The version part of an artifact id (the version may itself hold dashes). */
export function versionOfArtifactId(id: string): string {
  return id.replace(/-[^-]{1,7}-[0-9a-f]{8}$/, '');
}

function isManifest(v: unknown): v is ArtifactManifest {
  const m = v as Record<string, unknown>;
  return (
    typeof m === 'object' &&
    m !== null &&
    ['id', 'app', 'version', 'commit', 'commitTime', 'sha256', 'builder', 'inputsHash', 'builtAt', 'phar'].every(
      (k) => typeof m[k] === 'string',
    ) &&
    typeof m.size === 'number'
  );
}

async function readArtifact(dir: string): Promise<Artifact | undefined> {
  try {
    const manifest: unknown = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8'));
    if (!isManifest(manifest) || manifest.id !== path.basename(dir) || manifest.phar.includes('/')) return undefined;
    return { ...manifest, dir, pharPath: path.join(dir, manifest.phar) };
  } catch {
    return undefined;
  }
}

/** Every stored artifact, newest first (by build time, then id). Half-written folders are never listed. */
export async function listArtifacts(projectDir: string): Promise<Artifact[]> {
  const root = artifactsDir(projectDir);
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return [];
  }
  const found = await Promise.all(names.filter((n) => !n.startsWith('.')).map((n) => readArtifact(path.join(root, n))));
  return found
    .filter((a): a is Artifact => a !== undefined)
    .sort((a, b) => (a.builtAt !== b.builtAt ? (a.builtAt < b.builtAt ? 1 : -1) : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** One artifact by id, or the newest with "latest"; undefined when absent. */
export async function getArtifact(projectDir: string, idOrLatest: string): Promise<Artifact | undefined> {
  if (idOrLatest === 'latest') return (await listArtifacts(projectDir))[0];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(idOrLatest)) return undefined;
  return readArtifact(path.join(artifactsDir(projectDir), idOrLatest));
}

/**
 * The newest artifact built from exactly these inputs whose phar is still intact
 * (size and sha256 checked), or undefined.
 */
export async function findArtifactByInputsHash(projectDir: string, inputsHash: string): Promise<Artifact | undefined> {
  for (const artifact of await listArtifacts(projectDir)) {
    if (artifact.inputsHash !== inputsHash) continue;
    const stat = await fs.stat(artifact.pharPath).catch(() => undefined);
    if (!stat?.isFile() || stat.size !== artifact.size) continue;
    if ((await sha256File(artifact.pharPath)) === artifact.sha256) return artifact;
  }
  return undefined;
}

/** A folder being filled with a new artifact; invisible to listArtifacts until commit(). */
export interface Staging {
  dir: string;
  /** Moves the folder to `artifacts/<id>` with its manifest, replacing an artifact of the same id. */
  commit(manifest: ArtifactManifest): Promise<Artifact>;
  /** Removes the folder (after a failure or cancellation). Safe to call after commit. */
  discard(): Promise<void>;
}

/** Creates `.rollout/artifacts/.staging-<random>/` (same file system as the store, so commit is a rename). */
export async function createStaging(projectDir: string): Promise<Staging> {
  const root = artifactsDir(projectDir);
  await fs.mkdir(root, { recursive: true });
  const dir = await fs.mkdtemp(path.join(root, '.staging-'));
  let committed = false;
  return {
    dir,
    async commit(manifest) {
      const tmpManifest = path.join(dir, `.${MANIFEST}.tmp`);
      await fs.writeFile(tmpManifest, JSON.stringify(manifest, null, 2) + '\n');
      await fs.rename(tmpManifest, path.join(dir, MANIFEST));
      const target = path.join(root, manifest.id);
      // Same id means same content: swap the old folder out, the new one in, then drop the old.
      const old = path.join(root, `.old-${randomBytes(6).toString('hex')}`);
      const hadOld = await fs.rename(target, old).then(
        () => true,
        () => false,
      );
      await fs.rename(dir, target);
      committed = true;
      if (hadOld) await fs.rm(old, { recursive: true, force: true });
      return { ...manifest, dir: target, pharPath: path.join(target, manifest.phar) };
    },
    async discard() {
      if (!committed) await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
