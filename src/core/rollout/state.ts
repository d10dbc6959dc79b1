import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import type { RolloutState } from './types';

export const STATE_FILE = 'state.json';

/** `<project>/.rollout/state.json`. */
export function statePath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, STATE_FILE);
}

/** The rollout in progress, or undefined when none was ever started (or the file is unreadable). */
export async function readState(projectDir: string): Promise<RolloutState | undefined> {
  let text: string;
  try {
    text = await fs.readFile(statePath(projectDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const s = JSON.parse(text) as RolloutState;
    return s && s.version === 1 && typeof s.split === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Writes state.json whole: a temp file beside it, then rename, so a reader never sees half of it. */
export async function writeState(projectDir: string, state: RolloutState): Promise<void> {
  const file = statePath(projectDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await fs.rename(tmp, file);
}
