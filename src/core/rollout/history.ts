import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import { userEmail } from '../git/git';
import type { StoreLike } from './store';
import type { HistoryEvent } from './types';

export const HISTORY_FILE = 'history.jsonl';

/** The result of an event written before its change: the outcome follows with the same id. */
export const STARTED = 'started';

/** `<project>/.rollout/history.jsonl`: the history without an LB, else the local copy of the shared one. */
export function historyPath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, HISTORY_FILE);
}

/**
 * `<project>/.rollout/history.pending.jsonl`: events recorded on this machine that are not in the
 * shared history yet (a build, or a host that could not be reached); the next access pushes them.
 */
export function pendingHistoryPath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, 'history.pending.jsonl');
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

export type NewHistoryEvent = Omit<HistoryEvent, 'time' | 'user'> & Partial<Pick<HistoryEvent, 'time' | 'user'>>;

/** The event with its time and user (git's user.email for `projectDir`) filled in, fields in the file's order. */
export async function completeEvent(projectDir: string, event: NewHistoryEvent): Promise<HistoryEvent> {
  return {
    time: event.time ?? new Date().toISOString(),
    user: event.user ?? (await currentUser(projectDir)),
    ...(event.id !== undefined ? { id: event.id } : {}),
    action: event.action,
    ...(event.target !== undefined ? { target: event.target } : {}),
    ...(event.before !== undefined ? { before: event.before } : {}),
    ...(event.after !== undefined ? { after: event.after } : {}),
    result: event.result,
  };
}

/**
 * Appends one event to the history of `store` (a project folder: its own `.rollout/history.jsonl`);
 * callers report a change as done only after this resolves.
 */
export async function appendHistory(store: StoreLike, event: NewHistoryEvent): Promise<HistoryEvent> {
  if (typeof store !== 'string') {
    const full = await completeEvent(store.projectDir, event);
    await store.append(full);
    return full;
  }
  const full = await completeEvent(store, event);
  await appendLine(historyPath(store), JSON.stringify(full) + '\n');
  return full;
}

/** Records an event on this machine only, for the shared history's next access (a build knows no load balancer). */
export async function appendPendingHistory(projectDir: string, event: NewHistoryEvent): Promise<HistoryEvent> {
  const full = await completeEvent(projectDir, event);
  await appendLine(pendingHistoryPath(projectDir), JSON.stringify(full) + '\n');
  return full;
}

/**
 * Appends `text` (whole lines) and syncs it to disk. A single `write` with O_APPEND keeps lines from
 * two processes whole; a last line left without its newline (a crash mid-write) is closed first, so
 * this text starts on a fresh line.
 */
export async function appendLine(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const handle = await fs.open(file, 'a+');
  try {
    const { size } = await handle.stat();
    let torn = false;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      torn = last[0] !== 0x0a;
    }
    await handle.write((torn ? '\n' : '') + text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A change recorded before it is made; `done` records its outcome (same id) after. */
export interface StartedEvent {
  id: string;
  done(outcome: Partial<Pick<HistoryEvent, 'before' | 'after'>> & { result: string }): Promise<HistoryEvent>;
}

/**
 * Records `event` with result "started" before a change (a deploy, a split change), so a change
 * interrupted by a crash or a kill stays visible; the outcome, written by `done`, replaces it in
 * readHistory.
 */
export async function startHistory(store: StoreLike, event: Omit<NewHistoryEvent, 'result' | 'id'>): Promise<StartedEvent> {
  const id = randomBytes(6).toString('hex');
  const user = event.user ?? (await currentUser(typeof store === 'string' ? store : store.projectDir));
  await appendHistory(store, { ...event, user, id, result: STARTED });
  return {
    id,
    done: (outcome) =>
      appendHistory(store, {
        user,
        id,
        action: event.action,
        target: event.target,
        before: outcome.before ?? event.before,
        after: outcome.after ?? event.after,
        result: outcome.result,
      }),
  };
}

/** A line of history.jsonl that is not an event (cut by a crash, or edited). */
export interface TornLine {
  file: string;
  /** 1-based. */
  line: number;
  text: string;
}

export interface ReadHistoryOptions {
  /** Keep only the newest `limit` events. */
  limit?: number;
  /** Keep "started" events whose outcome was recorded too (default: only the outcome is shown). */
  all?: boolean;
  /** Told about every torn line (they stay in the file, and are skipped). */
  onTorn?: (t: TornLine) => void;
}

/**
 * Every event, oldest first, from the checkout's `.rollout/` (the history without an LB, else the
 * local copy of the shared one, refreshed by every read of the store), with the events waiting to
 * be pushed after them. A "started" event is shown only while its outcome is missing (the change
 * was interrupted); a torn or foreign line is skipped (and reported to `onTorn`), never the lines
 * after it.
 */
export async function readHistory(projectDir: string, options: ReadHistoryOptions = {}): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for (const file of [historyPath(projectDir), pendingHistoryPath(projectDir)]) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    events.push(...parseHistory(text, file, options.onTorn));
  }
  const finished = new Set(events.filter((e) => e.id !== undefined && e.result !== STARTED).map((e) => e.id));
  const shown = options.all ? events : events.filter((e) => !(e.result === STARTED && finished.has(e.id)));
  return options.limit !== undefined ? shown.slice(-options.limit) : shown;
}

/** The events in history text (foreign: every line is checked for shape; the others go to `onTorn`). */
export function parseHistory(text: string, file: string, onTorn?: (t: TornLine) => void): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      e = undefined;
    }
    if (isEvent(e)) events.push(e);
    else onTorn?.({ file, line: i + 1, text: line });
  }
  return events;
}

function isEvent(e: unknown): e is HistoryEvent {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return (
    typeof o.time === 'string' &&
    typeof o.action === 'string' &&
    typeof o.user === 'string' &&
    typeof o.result === 'string' &&
    (o.id === undefined || typeof o.id === 'string') &&
    (o.target === undefined || typeof o.target === 'string')
  );
}
