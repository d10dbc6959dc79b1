import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import type { RolloutConfig } from '../config/rolloutConfig';
import type { Transport } from '../exec/transport';
import { hostFilesFor, LocalHostFiles } from '../exec/hostFiles';
import { acquireHostLock, readHostLock, removeHostLock } from '../exec/hostLock';
import type { HeldLock, LockHolder, LockSite } from '../exec/hostLock';

type LockConfig = Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>;
type TransportOf = (target: { ssh?: string }) => Transport;

/**
 * Where the rollout lock lives: a directory beside the FIRST load balancer's managed file, on that
 * LB's host, so that teammates on other machines (who change the same LB) meet it. Without an LB:
 * `<project>/.rollout/rollout.lock`.
 */
export function lockLocation(config: LockConfig, transportOf: TransportOf): LockSite {
  const common = {
    subject: 'The rollout',
    hint: 'wait for it to finish, or run "unlock --force" if nothing is running (it is logged).',
  };
  const lb = config.loadBalancers[0];
  if (!lb) {
    const dir = path.join(config.projectDir, ROLLOUT_DIR, 'rollout.lock');
    return { ...common, files: new LocalHostFiles(), dir, where: dir, makeParent: true };
  }
  const dir = `${lb.file}.lock`;
  return { ...common, files: hostFilesFor(lb, transportOf(lb)), dir, where: `${lb.name}:${dir}` };
}

/** Takes the rollout lock (see acquireHostLock: one stale policy, a heartbeat while held). */
export function acquireLock(
  config: LockConfig,
  transportOf: TransportOf,
  options: { operation: string; user: string; staleMs?: number; signal?: AbortSignal },
): Promise<HeldLock> {
  return acquireHostLock(lockLocation(config, transportOf), options);
}

/** The current holder, or undefined when the rollout is not locked. */
export function readLock(
  config: LockConfig,
  transportOf: TransportOf,
  options: { staleMs?: number } = {},
): Promise<LockHolder | undefined> {
  return readHostLock(lockLocation(config, transportOf), options);
}

/**
 * Removes the lock: a stale one always, a live one only with `force`. Returns who held it
 * (undefined: there was no lock). Throws LockedError for a live lock without force.
 */
export function removeLock(
  config: LockConfig,
  transportOf: TransportOf,
  options: { force: boolean; staleMs?: number },
): Promise<LockHolder | undefined> {
  return removeHostLock(lockLocation(config, transportOf), options);
}
