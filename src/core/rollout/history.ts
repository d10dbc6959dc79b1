import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import { userEmail } from '../git/git';
import type { HistoryEvent } from './types';

export const HISTORY_FILE = 'history.jsonl';

/** `<project>/.rollout/history.jsonl`. */
export function historyPath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, HISTORY_FILE);
}

const identities = new Map<string, Promise<string>>();

/** git's user.email for the project (cached per folder); the OS user when git has none. */
export function currentUser(projectDir: string): Promise<string> {
  let p = identities.get(projectDir);
  if (!p) {
    p = userEmail(projectDir)
      .catch(() => undefined)
      .then((email) => email ?? safeOsUser());
    identities.set(projectDir, p);
  }
  return p;
}

function safeOsUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * Appends one event as one JSON line and syncs it to disk: callers report a change as done only after
 * this resolves. A single `write` with O_APPEND keeps lines from two processes whole.
 */
export async function appendHistory(
  projectDir: string,
  event: Omit<HistoryEvent, 'time' | 'user'> & Partial<Pick<HistoryEvent, 'time' | 'user'>>,
): Promise<HistoryEvent> {
  const full: HistoryEvent = {
    time: event.time ?? new Date().toISOString(),
    user: event.user ?? (await currentUser(projectDir)),
    action: event.action,
    ...(event.target !== undefined ? { target: event.target } : {}),
    ...(event.before !== undefined ? { before: event.before } : {}),
    ...(event.after !== undefined ? { after: event.after } : {}),
    result: event.result,
  };
  const file = historyPath(projectDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const handle = await fs.open(file, 'a');
  try {
    await handle.write(JSON.stringify(full) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return full;
}

/** Every event, oldest first (a torn or foreign line is skipped); `limit` keeps the newest ones. */
export async function readHistory(projectDir: string, options: { limit?: number } = {}): Promise<HistoryEvent[]> {
  let text: string;
  try {
    text = await fs.readFile(historyPath(projectDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const events: HistoryEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as HistoryEvent;
      if (e && typeof e.time === 'string' && typeof e.action === 'string') events.push(e);
    } catch {
      // a line cut by a crash: skip it, keep the rest
    }
  }
  return options.limit !== undefined ? events.slice(-options.limit) : events;
}
