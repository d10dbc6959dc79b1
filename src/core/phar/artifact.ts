/** manifest.json of one built phar, in `.rollout/artifacts/<id>/`. */
export interface ArtifactManifest {
  /** `<version>-<commit7>-<sha8>`: unique per content, safe as a directory name on any host. */
  id: string;
  app: string;
  version: string;
  /** Full git commit, or "unknown" outside git. */
  commit: string;
  /** ISO time of the commit (or SOURCE_DATE_EPOCH): the build time stamped in the phar. */
  commitTime: string;
  sha256: string;
  size: number;
  /** "builtin" or "box <version>". */
  builder: string;
  /** Hash of everything that went into the build; equal hashes are not rebuilt. */
  inputsHash: string;
  /** Wall-clock time the artifact was made (shown as age; never inside the phar). */
  builtAt: string;
  /** File name of the phar inside the artifact folder: `<app>.phar`. */
  phar: string;
  /** True when built from a work tree with uncommitted changes (the commit alone does not describe it). */
  dirty?: boolean;
}

/** A manifest with where it lives on this machine. */
export interface Artifact extends ArtifactManifest {
  dir: string;
  pharPath: string;
}

export const ROLLOUT_DIR = '.rollout';
export const ARTIFACTS_DIR = 'artifacts';
