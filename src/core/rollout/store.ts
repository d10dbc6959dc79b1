import type { LockRead } from '../exec/hostFiles';
import type { HistoryEvent, RolloutState } from './types';
import type { NewHistoryEvent } from './history';
import type { StateFileError } from './state';

/**
 * Where the team's rollout lives: its state (written whole, atomically) and its history
 * (append-only). With a load balancer that is a folder beside the rollout lock on the first LB's
 * host (`sharedStore.ts`); without one, the checkout's own `.rollout/`.
 */
export interface RolloutStore {
  /** "edge:/etc/nginx/conf.d/app.conf.rollout", or the local folder. */
  readonly where: string;
  /** The checkout whose `.rollout/` caches the store (or is the store, when `shared` is false). */
  readonly projectDir: string;
  /** True when the store is on an LB's host and `.rollout/` is only its cache. */
  readonly shared: boolean;
  /**
   * The state (and, with `lock`, the rollout lock's raw answer), with the history synced into the
   * local cache, in one round trip. When the host cannot be reached the cache answers, with `cached`
   * saying why; a corrupt state is `stateError` (located), never "no rollout".
   */
  read(options?: { lock?: boolean; signal?: AbortSignal }): Promise<StoreRead>;
  /**
   * Read-modify-write of the state: `change` gets the state on the store and returns the one to
   * write (undefined: nothing). Compare-and-swap on the host: a state changed meanwhile (a pause
   * from another checkout) is read back in the same round trip and `change` runs again. `events`
   * (given what is written) are appended to the history in the same step, only once.
   */
  update(
    change: (current: RolloutState | undefined) => RolloutState | undefined,
    events?: (written: RolloutState, before: RolloutState | undefined) => NewHistoryEvent[],
    signal?: AbortSignal,
  ): Promise<RolloutState | undefined>;
  /** Appends one event; a host that cannot be reached keeps it in `.rollout/` until the next access (logged). */
  append(event: HistoryEvent): Promise<void>;
  /** Remote round trips made so far (for figures and tests). */
  readonly roundTrips: number;
}

export interface StoreRead {
  state?: RolloutState;
  stateError?: StateFileError;
  /** The rollout lock as found in the same round trip (undefined: not locked, or not asked). */
  lock?: LockRead;
  /** Set when this is the local copy because the store could not be read: why, and from when. */
  cached?: string;
  where: string;
}

/** A store, or a project folder meaning its own `.rollout/` (no load balancer; tests). */
export type StoreLike = RolloutStore | string;
