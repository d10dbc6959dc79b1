import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { OperationError, throwIfAborted } from '../errors';
import { safeText } from '../safeText';
import type { HostFiles, HostScript, LockRead, ScriptResult } from './hostFiles';

/** A remote holder whose heartbeat is older than this (by the lock host's clock) is stale. */
export const LOCK_STALE_MS = 10 * 60 * 1000;

/** owner.json inside a lock directory: who holds it, on which machine, doing what. */
export interface LockOwner {
  /** Random; only the holder knows it, so only the holder's release removes the lock. */
  token: string;
  /** Who (git user.email or user@host). */
  user: string;
  /** Machine the holder runs on (os.hostname()). */
  host: string;
  pid: number;
  operation: string;
  /** ISO time the lock was taken (the holder's clock: for people, never for staleness). */
  since: string;
}

/** A lock as someone finds it. Fields of a holder come only from a well-formed owner file. */
export interface LockHolder extends Partial<LockOwner> {
  /** "<user> on <host>", or "unreadable: <why>" for a missing or malformed owner file. Exact: pass it through safeText to show it. */
  owner: string;
  /** Why the owner file could not be used; the lock can still be force-unlocked. */
  unreadable?: string;
  /** Last heartbeat (ISO), on the lock host's clock. */
  heartbeat: string;
  /** Time since the last heartbeat, on the lock host's clock. */
  ageMs: number;
  stale: boolean;
  /** Why it counts as stale ("its process 123 is gone"), when it does. */
  staleReason?: string;
  /** Where the lock lives ("edge:/etc/nginx/conf.d/app.conf.lock"). */
  where: string;
}

/** A lock we hold. */
export interface HeldLock {
  info: LockOwner;
  where: string;
  /** Removes the lock if it is still ours; never throws. False when it was not (any more). */
  release(): Promise<boolean>;
  /**
   * The answer of the `then` script given to acquireHostLock, run in the lock's trip; undefined when
   * it did not run there (a local host): then the caller runs it itself.
   */
  then?: ScriptResult;
  /**
   * release, running `first` in the same trip just before, while the lock is still ours (remote
   * hosts). `first` is undefined in the answer when it did not run: the caller runs it itself, before.
   * Never throws.
   */
  releaseAfter(first: HostScript): Promise<{ released: boolean; first?: ScriptResult }>;
}

/** One lock: a directory on a host, reached through that host's files. */
export interface LockSite {
  files: HostFiles;
  dir: string;
  /** Shown to people: "edge:/etc/nginx/app.conf.lock". */
  where: string;
  /** What the lock guards, for "… is locked by": "The rollout", "/srv/app on web-1". */
  subject: string;
  /** What to do when it is held, ending the error message. */
  hint: string;
  /** Create the lock directory's parent when missing. */
  makeParent?: boolean;
}

/** Thrown when someone else holds the lock. */
export class LockedError extends OperationError {
  constructor(
    readonly holder: LockHolder,
    subject: string,
    hint: string,
  ) {
    super(`${subject} is locked by ${describeHolder(holder)}; ${hint}`, { step: 'lock', file: holder.where });
  }
}

/** "alice on vm (ramp to 10 %) since <time>", made safe for a terminal (the owner file is foreign text). */
export function describeHolder(holder: LockHolder): string {
  const op = holder.operation ? ` (${safeText(holder.operation)})` : '';
  const since = holder.since ? safeText(holder.since) : `${Math.round(holder.ageMs / 1000)} s ago`;
  return `${safeText(holder.owner)}${op} since ${since}`;
}

const STRING_FIELDS = ['token', 'user', 'host', 'operation', 'since'] as const;

/** Checks owner.json's shape; anything else is "unreadable" with the reason. */
export function parseOwner(text: string): { owner: LockOwner } | { unreadable: string } {
  if (!text.trim()) return { unreadable: 'no owner file' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { unreadable: `owner file is not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { unreadable: 'owner file is not an object' };
  const v = value as Record<string, unknown>;
  for (const key of STRING_FIELDS) {
    if (typeof v[key] !== 'string') return { unreadable: `owner "${key}" is not a string` };
  }
  if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return { unreadable: 'owner "pid" is not a process id' };
  const owner: LockOwner = {
    token: v.token as string,
    user: v.user as string,
    host: v.host as string,
    pid: v.pid,
    operation: v.operation as string,
    since: v.since as string,
  };
  return { owner };
}

/** True while `pid` runs on this host (`kill -0`; EPERM means it runs as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The one stale policy. A holder on this machine is judged by its process alone: alive means held
 * whatever the age (a stalled holder or a clock step must not let a second one in), gone means
 * stale at once. Any other holder, or an unreadable owner, is stale when its heartbeat is older
 * than `staleMs`, both times read from the lock host's clock.
 */
export function judge(read: LockRead, where: string, staleMs: number): LockHolder {
  const parsed = parseOwner(read.owner);
  const base = { heartbeat: read.heartbeat, ageMs: read.ageMs, where };
  const byAge = (): Pick<LockHolder, 'stale' | 'staleReason'> =>
    read.ageMs > staleMs ? { stale: true, staleReason: `no heartbeat for ${Math.round(read.ageMs / 60000)} min` } : { stale: false };
  if ('unreadable' in parsed) return { ...base, owner: `unreadable: ${parsed.unreadable}`, unreadable: parsed.unreadable, ...byAge() };
  const o = parsed.owner;
  const holder = { ...base, ...o, owner: `${o.user} on ${o.host}` };
  if (o.host !== os.hostname()) return { ...holder, ...byAge() };
  if (o.pid === process.pid || processAlive(o.pid)) return { ...holder, stale: false };
  return { ...holder, stale: true, staleReason: `its process ${o.pid} on ${o.host} is gone` };
}

/** How long a fresh lock may lack its owner file: the holder writes it right after mkdir. */
const OWNER_GRACE_MS = 2000;

/**
 * A lock is made by mkdir and then its owner file is written, so a reader can catch it in between
 * and would report "someone". Re-read a young, ownerless lock until the owner shows (or it goes).
 */
async function settled(site: LockSite, read: LockRead | undefined, signal?: AbortSignal): Promise<LockRead | undefined> {
  const deadline = Date.now() + OWNER_GRACE_MS;
  while (read && !read.owner && read.ageMs < OWNER_GRACE_MS && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    throwIfAborted(signal);
    read = await site.files.readLock(site.dir, signal);
  }
  return read;
}

/**
 * Takes the lock (mkdir: atomic on the host). A stale one (see `judge`) is taken over once; a held
 * one throws LockedError naming its holder. While held, a heartbeat (the host's clock) is written
 * every `staleMs / 4` (at most every minute) so a long operation keeps it.
 */
export async function acquireHostLock(
  site: LockSite,
  options: { operation: string; user: string; staleMs?: number; signal?: AbortSignal; then?: HostScript },
): Promise<HeldLock> {
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const info: LockOwner = {
    token: randomBytes(12).toString('hex'),
    user: options.user,
    host: os.hostname(),
    pid: process.pid,
    operation: options.operation,
    since: new Date().toISOString(),
  };
  let then: ScriptResult | undefined;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    const probe = await site.files
      .createLock(site.dir, JSON.stringify(info) + '\n', { makeParent: site.makeParent, signal: options.signal, then: options.then })
      .catch(async (err: unknown) => {
        // Cut or cancelled while `then` ran: the lock may be ours already; only our token is removed.
        if (options.then) await site.files.removeLock(site.dir, info.token).catch(() => false);
        throw err;
      });
    if (probe.created) {
      then = probe.then;
      break;
    }
    const read = await settled(site, probe, options.signal);
    if (!read) continue; // released while we looked: try again
    const holder = judge(read, site.where, staleMs);
    if (!holder.stale || attempt > 0) throw new LockedError(holder, site.subject, site.hint);
    // Only the lock judged stale is removed: if someone took it over meanwhile, its token differs.
    await site.files.removeLock(site.dir, holder.token ?? '');
  }
  const beat = setInterval(() => void site.files.touchLock(site.dir, info.token), Math.min(60000, Math.max(1000, staleMs / 4)));
  beat.unref();
  return {
    info,
    where: site.where,
    then,
    release: async () => {
      clearInterval(beat);
      return site.files.removeLock(site.dir, info.token).catch(() => false);
    },
    releaseAfter: async (first) => {
      clearInterval(beat);
      try {
        const r = await site.files.removeLockAfter(site.dir, info.token, first);
        return { released: r.removed, first: r.first };
      } catch (err) {
        return { released: false, first: { code: null, stdout: '', stderr: (err as Error).message } };
      }
    },
  };
}

/** The current holder, or undefined when there is no lock. */
export async function readHostLock(
  site: LockSite,
  options: { staleMs?: number; signal?: AbortSignal } = {},
): Promise<LockHolder | undefined> {
  const read = await settled(site, await site.files.readLock(site.dir, options.signal), options.signal);
  return read ? judge(read, site.where, options.staleMs ?? LOCK_STALE_MS) : undefined;
}

/**
 * Removes the lock: a stale one always, a held one only with `force` (an unreadable owner too).
 * Returns who held it (undefined: there was no lock); throws LockedError for a held lock without force.
 */
export async function removeHostLock(site: LockSite, options: { force: boolean; staleMs?: number }): Promise<LockHolder | undefined> {
  const holder = await readHostLock(site, options);
  if (!holder) return undefined;
  if (!holder.stale && !options.force) throw new LockedError(holder, site.subject, site.hint);
  await site.files.removeLock(site.dir, options.force ? undefined : (holder.token ?? ''));
  return holder;
}
