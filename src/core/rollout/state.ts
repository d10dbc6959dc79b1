import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ROLLOUT_DIR } from '../phar/artifact';
import { InputError, OperationError } from '../errors';
import { processAlive } from '../exec/hostLock';
import { appendHistory } from './history';
import type { NewHistoryEvent } from './history';
import type { StoreLike } from './store';
import type { RolloutState, RolloutStatus } from './types';

export const STATE_FILE = 'state.json';

/** `<project>/.rollout/state.json`. */
export function statePath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, STATE_FILE);
}

// The state machine. Every change of `status` goes through `transition`.

/**
 * What happens to a rollout:
 * - start: a ramp begins (before its first step);
 * - step: a ramp step went live (a pause that landed meanwhile is kept);
 * - gateFailed: a gate failed after a step;
 * - pause / resume: someone paused or resumed it;
 * - promote / rollback: someone promoted the canary, or rolled back (both end the rollout).
 */
export type RolloutEvent = 'start' | 'step' | 'gateFailed' | 'pause' | 'resume' | 'promote' | 'rollback';

/** A rollout status, or `none` when no state.json exists. */
export type RolloutPhase = RolloutStatus | 'none';

/** The outcome of an event: the next status (`fresh`: a new rollout starts), no state to keep, or a refusal. */
export type Transition = { to: RolloutStatus; fresh?: boolean } | { to: 'none' } | { refuse: (from: RolloutPhase) => string; hint: string };

const notRunning: Transition = {
  refuse: (from) => (from === 'none' ? 'No rollout is running' : `The rollout is ${from}, not running`),
  hint: 'Pause applies to a running rollout.',
};
const notPaused: Transition = {
  refuse: (from) => (from === 'none' ? 'No rollout is running' : `The rollout is ${from}, not paused`),
  hint: 'Resume applies to a paused rollout.',
};
const isPaused: Transition = { refuse: () => 'The rollout is paused', hint: 'Resume it first ("resume"), or roll back.' };
const newRollout: Transition = { to: 'running', fresh: true };
const ended: Transition = { to: 'done' };

/** status × event → status. A rollback someone chose ends the rollout ("done"); only a failed gate marks it "failed". */
const ENDED_ROW = {
  start: newRollout,
  step: { to: 'running' },
  gateFailed: { to: 'failed' },
  pause: notRunning,
  resume: notPaused,
  promote: ended,
  rollback: ended,
} as const;

export const TRANSITIONS: Readonly<Record<RolloutPhase, Readonly<Record<RolloutEvent, Transition>>>> = {
  none: {
    start: newRollout,
    step: newRollout,
    gateFailed: { to: 'failed' },
    pause: notRunning,
    resume: notPaused,
    promote: { to: 'none' },
    rollback: { to: 'none' },
  },
  running: {
    start: { to: 'running' },
    step: { to: 'running' },
    gateFailed: { to: 'failed' },
    pause: { to: 'paused' },
    resume: notPaused,
    promote: ended,
    rollback: ended,
  },
  paused: {
    start: isPaused,
    step: { to: 'paused' },
    gateFailed: { to: 'failed' },
    pause: notRunning,
    resume: { to: 'running' },
    promote: ended,
    rollback: ended,
  },
  // A failed and a done rollout answer every event alike: both have ended.
  failed: ENDED_ROW,
  done: ENDED_ROW,
};

/**
 * The status after `event` from `state`'s status: `{ to, fresh }` (fresh: the event starts a new
 * rollout), `{ to: 'none' }` (there is no rollout to record it in). Throws InputError for a refused event.
 */
export function transition(state: RolloutState | undefined, event: RolloutEvent): { to: RolloutStatus | 'none'; fresh: boolean } {
  const from: RolloutPhase = state?.status ?? 'none';
  const t = TRANSITIONS[from][event];
  if ('refuse' in t) throw new InputError(t.refuse(from), { hint: t.hint });
  return { to: t.to, fresh: 'fresh' in t && t.fresh === true };
}

/** A rollout has started and not ended: a ramp continues its plan (it does not start a new one). */
export function inProgress(state: RolloutState | undefined): state is RolloutState {
  if (!state) return false;
  const start = TRANSITIONS[state.status].start;
  return !('fresh' in start && start.fresh);
}

/**
 * Applies `event` to the rollout's state in `store` (the shared store, or a project's own
 * `.rollout/`): the table above gives the next status (or refuses), `next` the rest of the state
 * from what is there. `events` are recorded in the history with it. Returns the state written, or
 * undefined when there is no rollout to record the event in.
 */
export function applyEvent(
  store: StoreLike,
  event: RolloutEvent,
  next: (current: RolloutState | undefined, to: RolloutStatus) => RolloutState,
  events?: (written: RolloutState, before: RolloutState | undefined) => NewHistoryEvent[],
): Promise<RolloutState | undefined> {
  return updateState(
    store,
    (current) => {
      const t = transition(current, event);
      return t.to === 'none' ? undefined : { ...next(current, t.to), status: t.to };
    },
    events,
  );
}

// The file.

/** state.json exists but is not a rollout state (cut short, edited, another version): never "no rollout". */
export class StateFileError extends InputError {
  constructor(file: string, why: string, offset: number, text: string) {
    super(`${file} is corrupt: ${why}`, {
      location: { file, ...lineColumn(text, offset) },
      hint:
        'It records the rollout in progress (its plan, step and any pause). Repair it, or delete it if the split on the ' +
        'load balancers is right (status shows it): the next ramp then starts a new rollout.',
    });
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

const STATUSES: readonly string[] = ['running', 'paused', 'failed', 'done'];
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Why `s` is not a RolloutState, or undefined when it is one. */
function shapeProblem(s: unknown): string | undefined {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return 'not a JSON object';
  const o = s as Record<string, unknown>;
  if (o.version !== 1) return 'no "version": 1';
  if (typeof o.status !== 'string' || !STATUSES.includes(o.status)) return '"status" is not running, paused, failed or done';
  if (!Array.isArray(o.steps) || !o.steps.every(isNumber)) return '"steps" is not a list of numbers';
  if (!isNumber(o.stepIndex)) return '"stepIndex" is not a number';
  if (!isNumber(o.split)) return '"split" is not a number';
  for (const k of ['startedAt', 'updatedAt'] as const) if (typeof o[k] !== 'string') return `"${k}" is not a string`;
  for (const k of ['canaryArtifact', 'canaryVersion', 'message'] as const)
    if (o[k] !== undefined && typeof o[k] !== 'string') return `"${k}" is not a string`;
  if (o.planIndex !== undefined && !isNumber(o.planIndex)) return '"planIndex" is not a number';
  if (o.startedBy !== undefined && typeof o.startedBy !== 'string') return '"startedBy" is not a string';
  if (o.windows !== undefined && (!Array.isArray(o.windows) || !o.windows.every((w) => typeof w === 'object' && w !== null)))
    return '"windows" is not a list of objects';
  if (o.endedBy !== undefined && o.endedBy !== 'promote' && o.endedBy !== 'rollback') return '"endedBy" is not promote or rollback';
  if (o.runner !== undefined) {
    const r = o.runner as Record<string, unknown> | null;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) return '"runner" is not an object';
    for (const k of ['user', 'host', 'since', 'seenAt'] as const) if (typeof r[k] !== 'string') return `"runner.${k}" is not a string`;
    if (!isNumber(r.pid) || !isNumber(r.intervalMs)) return '"runner.pid" or "runner.intervalMs" is not a number';
  }
  return undefined;
}

/**
 * The state in `text` (read from `file`, named in errors: a local path or "edge:/path/state.json").
 * Text that is not a rollout state throws StateFileError located in it.
 */
export function parseState(text: string, file: string): RolloutState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message);
    throw new StateFileError(
      file,
      text.trim() ? `not valid JSON (${(err as Error).message})` : 'empty',
      at ? Number(at[1]) : text.length,
      text,
    );
  }
  const problem = shapeProblem(parsed);
  if (problem) throw new StateFileError(file, problem, 0, text);
  return parsed as RolloutState;
}

/** The text a state is written as (the shared store compares it byte for byte). */
export function stateText(state: RolloutState): string {
  return JSON.stringify(state, null, 2) + '\n';
}

/**
 * The state in the checkout's `.rollout/state.json` (the store itself without an LB, else the
 * local cache of the shared store), or undefined when there is none. A file that is there but
 * unreadable as a state throws StateFileError naming it.
 */
export async function readState(projectDir: string): Promise<RolloutState | undefined> {
  const file = statePath(projectDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseState(text, file);
}

/** Writes state.json whole: a temp file beside it, then rename, so a reader never sees half of it. */
export async function writeState(projectDir: string, state: RolloutState): Promise<void> {
  const file = statePath(projectDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, stateText(state));
  await fs.rename(tmp, file);
}

/** A state lock older than this was left by a process that died holding it. */
const STATE_LOCK_STALE_MS = 30_000;
/** How long to wait for another process's read-modify-write (each takes milliseconds). */
const STATE_LOCK_WAIT_MS = 10_000;

/**
 * Runs `body` holding `lock` (a directory: mkdir is atomic), taken over when older than 30 s (its
 * holder died: every holder needs milliseconds).
 */
/** A lock folder without its holder's pid after this long: its holder died between mkdir and write. */
const STATE_LOCK_NO_PID_MS = 2_000;

/** The holder of a local lock folder: alive, dead (its pid is gone on this host), or unknown (no pid yet). */
async function localHolder(lock: string): Promise<'alive' | 'dead' | 'unknown'> {
  const text = await fs.readFile(path.join(lock, 'pid'), 'utf8').catch(() => undefined);
  const pid = Number(text);
  if (!text || !Number.isInteger(pid) || pid <= 0) return 'unknown';
  return processAlive(pid) ? 'alive' : 'dead';
}

export async function withLocalLock<T>(lock: string, body: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + STATE_LOCK_WAIT_MS;
  for (;;) {
    try {
      await fs.mkdir(lock);
      // Who holds it: a holder killed (SIGKILL) inside the body is seen dead at once, not after 30 s.
      await fs.writeFile(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fs.stat(lock).catch(() => undefined);
      const holder = await localHolder(lock);
      const age = st ? Date.now() - st.mtimeMs : 0;
      // A dead holder, a holder that never wrote its pid (killed between mkdir and write), or an old lock.
      if (st && (holder === 'dead' || (holder === 'unknown' && age > STATE_LOCK_NO_PID_MS) || age > STATE_LOCK_STALE_MS)) {
        // Taken over only if it is still the same dead holder's (another waiter may have taken it meanwhile).
        if (holder !== 'dead' || (await localHolder(lock)) === 'dead') await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new OperationError(
          `${lock} has been held for ${Math.round((Date.now() - (st?.mtimeMs ?? Date.now())) / 1000)} s: another phar-rollout is writing the rollout state; if none is running, remove that folder`,
          { step: 'lock', file: lock },
        );
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20)); // back off: the holder needs milliseconds
    }
  }
  try {
    return await body();
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/**
 * Read-modify-write of the rollout state in `store`, so that a pause from another process (or
 * another checkout) is never overwritten by a ramp saving its step (pause cannot take the rollout
 * lock: it must work while a ramp holds it). `change` gets the state there and returns the one to
 * write (undefined: write nothing); `events` are appended with it. Returns the state afterwards.
 * A project folder means its own `.rollout/state.json`, under `.rollout/state.json.lock`.
 */
export async function updateState(
  store: StoreLike,
  change: (current: RolloutState | undefined) => RolloutState | undefined,
  events?: (written: RolloutState, before: RolloutState | undefined) => NewHistoryEvent[],
): Promise<RolloutState | undefined> {
  if (typeof store !== 'string') return store.update(change, events);
  const projectDir = store;
  const written = await withLocalLock(`${statePath(projectDir)}.lock`, async () => {
    const current = await readState(projectDir);
    const next = change(current);
    if (next === undefined) return { current, written: undefined };
    const w = { ...next, updatedAt: new Date().toISOString() };
    await writeState(projectDir, w);
    return { current, written: w };
  });
  if (!written.written) return written.current;
  for (const e of events?.(written.written, written.current) ?? []) await appendHistory(projectDir, e);
  return written.written;
}
