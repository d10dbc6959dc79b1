import { setTimeout as wait } from 'node:timers/promises';
import { CancelledError } from './errors';

/**
 * Waits `ms` (a schedule: probe intervals, analysis windows), rejecting with CancelledError as soon
 * as `signal` aborts.
 */
export async function delay(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(ms, undefined, { signal });
  } catch (err) {
    if (signal?.aborted) throw new CancelledError();
    throw err;
  }
}
