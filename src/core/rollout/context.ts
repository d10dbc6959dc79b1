import type { RolloutConfig } from '../config/rolloutConfig';
import type { SshOptions } from '../exec/sshTransport';
import { TransportPool } from '../exec/transportFor';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { currentUser } from './history';
import { acquireLock } from './lock';
import type { HeldLock } from '../exec/hostLock';
import type { OnProgress } from '../progress';
import type { OperationOptions } from './types';
import { recoverTraffic } from './recovery';
import { storeFor } from './sharedStore';
import type { RolloutStore } from './store';
import type { Recovered } from './recovery';

/** Options of every rollout operation. */
export interface RolloutOptions extends OperationOptions {
  /** Shared connections (the extension keeps one pool); else one is made and closed per operation. */
  transports?: TransportPool;
  ssh?: SshOptions;
  /** Who acts, for history and lock; default git's user.email. */
  user?: string;
  /** Lock staleness (default 10 min). */
  staleMs?: number;
}

/** What an operation body gets, and passes down to every step: the pool, the logger, the user, cancellation, progress. */
export interface OpContext {
  pool: TransportPool;
  log: Logger;
  user: string;
  signal?: AbortSignal;
  /** The caller's progress sink (a no-op when it gave none). */
  onProgress: OnProgress;
  /** Shorthand for `onProgress({ message })`. */
  progress(message: string): void;
  /** The rollout's state and history: shared on the first LB's host (see sharedStore.ts). */
  store: RolloutStore;
}

/**
 * The options a backend operation (deploy, release switch, status) takes, from the context: the
 * same pool, log, cancellation, user and progress sink, so no call site rebuilds them.
 */
export function backendOptions(ctx: OpContext): {
  transports: TransportPool;
  log: Logger;
  signal?: AbortSignal;
  deployedBy: string;
  onProgress: OnProgress;
} {
  return { transports: ctx.pool, log: ctx.log, signal: ctx.signal, deployedBy: ctx.user, onProgress: ctx.onProgress };
}

/** Runs `body` with a transport pool (the caller's, or a fresh one closed afterwards). */
export async function withContext<T>(
  config: Pick<RolloutConfig, 'projectDir' | 'loadBalancers'>,
  options: RolloutOptions,
  body: (ctx: OpContext) => Promise<T>,
): Promise<T> {
  const log = options.log ?? nullLogger;
  const pool = options.transports ?? new TransportPool({ ...options.ssh, log });
  try {
    const user = options.user ?? (await currentUser(config.projectDir));
    const onProgress: OnProgress = (p) => options.onProgress?.(p);
    const store = storeFor(config, (t) => pool.get(t), pool, log);
    return await body({ pool, log, user, signal: options.signal, onProgress, progress: (message) => onProgress({ message }), store });
  } finally {
    if (!options.transports) await pool.dispose();
  }
}

/**
 * withContext holding the rollout lock for the whole body. Under the lock, before the body, an
 * interrupted change on the LBs is recovered and recorded (recoverTraffic; `recover` says whether a
 * failure to recover stops the operation); the body gets what was recovered.
 */
export function withLock<T>(
  config: RolloutConfig,
  operation: string,
  options: RolloutOptions,
  body: (ctx: OpContext, lock: HeldLock, recovered: Recovered[]) => Promise<T>,
  recover: 'required' | 'bestEffort' = 'required',
): Promise<T> {
  return withContext(config, options, async (ctx) => {
    ctx.progress('taking the rollout lock');
    const lock = await acquireLock(config, (t) => ctx.pool.get(t), {
      operation,
      user: ctx.user,
      staleMs: options.staleMs,
      signal: options.signal,
    });
    try {
      const recovered = await recoverTraffic(config, ctx, recover);
      return await body(ctx, lock, recovered);
    } finally {
      await lock.release();
    }
  });
}
