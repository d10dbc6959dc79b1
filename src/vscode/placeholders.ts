/**
 * Placeholder backends: the starter rollout.json's examples, not servers. No vscode import (unit-tested).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { BackendConfig } from '../core/config/rolloutConfig';

/** Where the starter puts its example backends (`.rollout/backends/<name>`, on this machine). */
const STARTER_DIR = path.join('.rollout', 'backends');

/**
 * The backends that are still the starter's placeholders: on this machine (no ssh), their `dir`
 * inside the project's `.rollout/backends/`, and never deployed (the folder does not exist). Shown as
 * "edit rollout.json" instead of red unreachable servers.
 */
export function placeholderBackends(projectDir: string, backends: readonly BackendConfig[]): string[] {
  const starter = path.join(projectDir, STARTER_DIR) + path.sep;
  return backends
    .filter((b) => !b.ssh)
    .filter((b) => {
      const dir = path.resolve(projectDir, b.dir);
      return dir.startsWith(starter) && !existsSync(dir);
    })
    .map((b) => b.name);
}
