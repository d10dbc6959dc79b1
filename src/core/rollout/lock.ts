import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import type { RolloutConfig } from '../config/rolloutConfig';
import { OperationError, throwIfAborted } from '../errors';
import type { Transport } from '../exec/transport';
import { hostFilesFor, LocalHostFiles } from '../exec/hostFiles';
import type { HostFiles } from '../exec/hostFiles';

/** A lock not refreshed for this long is stale and taken over. */
export const LOCK_STALE_MS = 10 * 60 * 1000;

/** owner.json inside the lock directory. */
export interface LockInfo {
  token: string;
  /** git user.email of the holder. */
  user: string;
  /** Machine the holder runs on. */
  host: string;
  /** "<user> on <host>": what people read. */
  owner: string;
  pid: number;
  since: string;
  operation: string;
}

/** The lock as someone else finds it. */
export interface LockHolder extends Partial<LockInfo> {
  owner: string;
  ageMs: number;
  stale: boolean;
  /** Where the lock lives ("edge:/etc/nginx/conf.d/app.conf.lock"). */
  where: string;
}

export interface HeldLock {
  info: LockInfo;
  where: string;
  /** Removes the lock if it is still ours; never throws. */
  release(): Promise<void>;
}

/** Thrown when another user holds the lock. */
export class LockedError extends OperationError {
  constructor(readonly holder: LockHolder) {
    super(
      `The rollout is locked by ${holder.owner}${holder.operation ? ` (${holder.operation})` : ''} since ${holder.since ?? `${Math.round(holder.ageMs / 1000)} s ago`}; ` +
        'wait for it to finish, or run "unlock --force" if nothing is running (it is logged).',
      { step: 'lock', file: holder.where },
    );
  }
}

/**
 * Where the lock lives: a directory beside the FIRST load balancer's managed file, on that LB's
 * host, so that teammates on other machines (who change the same LB) meet it. Without an LB:
 * `<project>/.rollout/rollout.lock`.
 */
export function lockLocation(
  config: Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>,
  transportOf: (target: { ssh?: string }) => Transport,
): { files: HostFiles; dir: string; where: string } {
  const lb = config.loadBalancers[0];
  if (!lb) {
    const dir = path.join(config.projectDir, ROLLOUT_DIR, 'rollout.lock');
    return { files: new LocalHostFiles(), dir, where: dir };
  }
  const dir = `${lb.file}.lock`;
  return { files: hostFilesFor(lb, transportOf(lb)), dir, where: `${lb.name}:${dir}` };
}

/** How long a fresh lock may lack its owner file: the holder writes it right after mkdir. */
const OWNER_GRACE_MS = 2000;

/**
 * A lock is made by mkdir and then its owner file is written, so a reader can catch it in between
 * and would report "someone". Re-read a young, ownerless lock until the owner shows (or it goes).
 */
async function settled(
  files: HostFiles,
  dir: string,
  probe: { ageMs: number; owner: string } | undefined,
): Promise<{ ageMs: number; owner: string } | undefined> {
  const deadline = Date.now() + OWNER_GRACE_MS;
  while (probe && !probe.owner.trim() && probe.ageMs < OWNER_GRACE_MS && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    probe = await files.readLock(dir);
  }
  return probe;
}

function holderOf(probe: { ageMs: number; owner: string }, where: string, staleMs: number): LockHolder {
  let info: Partial<LockInfo> = {};
  try {
    info = JSON.parse(probe.owner) as Partial<LockInfo>;
  } catch {
    // owner file not written yet (or foreign): judged by age alone
  }
  const dead = info.host === os.hostname() && typeof info.pid === 'number' && info.pid !== process.pid && !alive(info.pid);
  return { ...info, owner: info.owner ?? 'someone', ageMs: probe.ageMs, stale: probe.ageMs > staleMs || dead, where };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the rollout lock (mkdir: atomic on the host). A stale lock (not refreshed for `staleMs`, or
 * held by a dead process of this machine) is taken over once; a live one throws LockedError naming
 * its holder. While held, the lock is refreshed every minute so long operations keep it.
 */
export async function acquireLock(
  config: Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>,
  transportOf: (target: { ssh?: string }) => Transport,
  options: { operation: string; user: string; staleMs?: number; signal?: AbortSignal },
): Promise<HeldLock> {
  const staleMs = options.staleMs ?? LOCK_STALE_MS;
  const { files, dir, where } = lockLocation(config, transportOf);
  if (config.loadBalancers.length === 0) await fs.mkdir(path.dirname(dir), { recursive: true });
  const host = os.hostname();
  const info: LockInfo = {
    token: randomBytes(12).toString('hex'),
    user: options.user,
    host,
    owner: `${options.user} on ${host}`,
    pid: process.pid,
    since: new Date().toISOString(),
    operation: options.operation,
  };
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    const probe = await files.createLock(dir, JSON.stringify(info) + '\n');
    if (probe.created) break;
    const held = await settled(files, dir, probe);
    if (!held) continue; // released while we looked: try again
    const holder = holderOf(held, where, staleMs);
    if (!holder.stale || attempt > 0) throw new LockedError(holder);
    // Only the lock judged stale is removed: if someone took it over meanwhile, its token differs.
    await files.removeLock(dir, holder.token ?? '');
  }
  const beat = setInterval(() => void files.touchLock(dir), Math.min(60000, Math.max(1000, staleMs / 4)));
  beat.unref();
  return {
    info,
    where,
    release: async () => {
      clearInterval(beat);
      await files.removeLock(dir, info.token).catch(() => false);
    },
  };
}

/** The current holder, or undefined when the rollout is not locked. */
export async function readLock(
  config: Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>,
  transportOf: (target: { ssh?: string }) => Transport,
  options: { staleMs?: number } = {},
): Promise<LockHolder | undefined> {
  const { files, dir, where } = lockLocation(config, transportOf);
  const probe = await settled(files, dir, await files.readLock(dir));
  return probe ? holderOf(probe, where, options.staleMs ?? LOCK_STALE_MS) : undefined;
}

/**
 * Removes the lock: a stale one always, a live one only with `force`. Returns who held it
 * (undefined: there was no lock). Throws LockedError for a live lock without force.
 */
export async function removeLock(
  config: Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>,
  transportOf: (target: { ssh?: string }) => Transport,
  options: { force: boolean; staleMs?: number },
): Promise<LockHolder | undefined> {
  const { files, dir, where } = lockLocation(config, transportOf);
  const probe = await settled(files, dir, await files.readLock(dir));
  if (!probe) return undefined;
  const holder = holderOf(probe, where, options.staleMs ?? LOCK_STALE_MS);
  if (!holder.stale && !options.force) throw new LockedError(holder);
  await files.removeLock(dir, options.force ? undefined : (holder.token ?? ''));
  return holder;
}
