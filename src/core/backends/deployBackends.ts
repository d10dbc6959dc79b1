import type { Artifact } from '../phar/artifact';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, OperationError, describeError, throwIfAborted } from '../errors';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import type { Transport } from '../exec/transport';
import { TransportPool } from '../exec/transportFor';
import type { SshOptions } from '../exec/sshTransport';
import { probeVersion, servesBuild } from './probe';
import type { ProbeResult } from './probe';
import type { OnProgress } from '../progress';
import { acquireLock, activatePrevious, discardRelease, placeRelease, pruneReleases, setLinks, switchCurrent } from './releases';
import type { ReleaseLinks } from './releases';
import { delay } from '../delay';

/** The steps of a deploy on one backend, in order. */
export type DeployStep = 'queued' | 'lock' | 'upload' | 'verify' | 'record' | 'switch' | 'restart' | 'probe' | 'prune' | 'done';

export interface BackendResult {
  backend: string;
  ok: boolean;
  /** The step that failed (or was running when cancelled). */
  step?: DeployStep;
  error?: string;
  cancelled?: boolean;
  durationMs: number;
}

interface CommonOptions {
  config: RolloutConfig;
  backends: readonly BackendConfig[];
  log?: Logger;
  signal?: AbortSignal;
  /** Per backend: each step as it starts (`backend`, `step`), and upload bytes (`bytes`). */
  onProgress?: OnProgress<DeployStep>;
  /** Shared connections; when absent, a pool is made from `ssh` and closed at the end. */
  transports?: TransportPool;
  ssh?: SshOptions;
  /** Recorded in release.json and the lock; default user@hostname. */
  deployedBy?: string;
}

export interface DeployOptions extends CommonOptions {
  artifact: Artifact;
}

/** Polls `url` until it serves `build` or `deadlineMs` passes (then OperationError, step "probe"). */
export async function waitForBuild(
  url: string,
  build: { version: string; commit?: string },
  options: { deadlineMs: number; timeoutMs: number; signal?: AbortSignal; target?: string },
): Promise<ProbeResult> {
  const deadline = Date.now() + options.deadlineMs;
  let last: ProbeResult | undefined;
  for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 500)) {
    throwIfAborted(options.signal);
    last = await probeVersion(url, { timeoutMs: Math.max(50, Math.min(options.timeoutMs, deadline - Date.now())), signal: options.signal });
    if (last.ok && servesBuild(last, build)) return last;
    if (Date.now() + pauseMs > deadline) break;
    await delay(pauseMs, options.signal);
  }
  const seen = last?.ok
    ? `it still serves ${last.version}${last.commit ? ` (${last.commit.slice(0, 7)})` : ''}`
    : `last probe: ${last?.error?.message ?? 'none'}`;
  throw new OperationError(
    `${url} did not serve ${build.version}${build.commit ? ` (${build.commit.slice(0, 7)})` : ''} within ${options.deadlineMs} ms; ${seen}`,
    { step: 'probe', backend: options.target },
  );
}

interface BackendRun {
  t: Transport;
  backend: BackendConfig;
  config: RolloutConfig;
  log: Logger;
  signal?: AbortSignal;
  step: (s: DeployStep) => void;
}

/**
 * After `current` changed: run the restart hook and probe until `build` is served. On any
 * failure (or cancel) put the links back as they were, run the hook again so the old release
 * serves, and rethrow with a note saying so.
 */
async function confirmSwitch(run: BackendRun, before: ReleaseLinks, build: { version: string; commit?: string }): Promise<void> {
  const { t, backend, config, signal } = run;
  try {
    throwIfAborted(signal);
    if (backend.restart) {
      run.step('restart');
      await t.command(backend.restart, { signal, timeoutMs: config.probe.deployDeadlineMs });
    }
    if (backend.probe) {
      run.step('probe');
      await waitForBuild(backend.probe, build, {
        deadlineMs: config.probe.deployDeadlineMs,
        timeoutMs: config.probe.timeoutMs,
        signal,
        target: backend.name,
      });
    }
  } catch (err) {
    // No signal here: putting the old release back must finish even when the user cancelled.
    let note: string;
    try {
      await setLinks(t, backend.dir, { current: before.current ?? null, previous: before.previous ?? null });
      note = before.current ? `current switched back to ${before.current}` : 'current removed again';
      if (backend.restart) {
        try {
          await t.command(backend.restart, { timeoutMs: config.probe.deployDeadlineMs });
        } catch (e) {
          note += `, but the restart hook failed again: ${describeError(e)}`;
        }
      }
    } catch (e) {
      note = `switching current back FAILED: ${describeError(e)}`;
    }
    run.log.warn(`${backend.name}: ${note}`);
    if (err instanceof CancelledError) throw err;
    throw new OperationError(`${describeError(err)} (${note})`, {
      step: (err as OperationError).step ?? 'restart',
      backend: backend.name,
      cause: err,
    });
  }
}

async function deployOne(
  run: BackendRun,
  artifact: Artifact,
  deployedBy: string | undefined,
  onBytes?: (b: number, total: number) => void,
): Promise<void> {
  const { t, backend, config, signal } = run;
  run.step('lock');
  const lock = await acquireLock(t, backend.dir, { operation: `deploy ${artifact.id}`, owner: deployedBy, signal });
  let switched = false;
  try {
    try {
      await placeRelease(t, backend.dir, artifact, { signal, deployedBy, onStep: run.step, onBytes });
      throwIfAborted(signal);
    } catch (err) {
      // Leave nothing half-made behind (unless a link points at that release).
      await discardRelease(t, backend.dir, artifact.id, artifact.phar).catch((e) =>
        run.log.debug(`${backend.name}: cleanup failed: ${describeError(e)}`),
      );
      throw err;
    }
    run.step('switch');
    const before = await switchCurrent(t, backend.dir, artifact.id, { signal });
    switched = true;
    await confirmSwitch(run, before, artifact);
    run.step('prune');
    try {
      const removed = await pruneReleases(t, backend.dir, config.keepReleases);
      if (removed.length) run.log.debug(`${backend.name}: pruned ${removed.join(', ')}`);
    } catch (err) {
      run.log.warn(`${backend.name}: pruning old releases failed: ${describeError(err)}`);
    }
  } finally {
    if (!(await lock.release()))
      run.log.warn(
        `${backend.name}: could not remove the lock ${backend.dir}/.rollout.lock${switched ? ' (the deploy itself finished)' : ''}`,
      );
  }
}

async function rollbackOne(run: BackendRun, deployedBy: string | undefined): Promise<void> {
  const { t, backend, signal } = run;
  run.step('lock');
  const lock = await acquireLock(t, backend.dir, { operation: 'rollback to previous release', owner: deployedBy, signal });
  try {
    run.step('switch');
    const { before, release } = await activatePrevious(t, backend.dir, { signal });
    await confirmSwitch(run, before, release);
  } finally {
    if (!(await lock.release())) run.log.warn(`${backend.name}: could not remove the lock ${backend.dir}/.rollout.lock`);
  }
}

/**
 * Runs `work` on every backend, at most `concurrency` at once and never a whole group at once
 * (at most size-1 of a group of several), so a group behind the LB always has a server up.
 */
async function forEachBackend(
  options: CommonOptions,
  work: (run: BackendRun, onBytes: (b: number, total: number) => void) => Promise<void>,
): Promise<{ results: BackendResult[] }> {
  const { config, signal } = options;
  const log = options.log ?? nullLogger;
  const pool = options.transports ?? new TransportPool({ ...options.ssh, log });
  const concurrency = Math.max(1, config.deploy.concurrency);
  const groupSize = (g: string) => config.backends.filter((b) => b.group === g).length;
  const groupLimit = (g: string) => Math.max(1, groupSize(g) - 1);
  const running = new Map<string, number>();
  const results: BackendResult[] = new Array(options.backends.length);
  const queue = options.backends.map((b, i) => ({ b, i }));
  const report = (backend: string, step: DeployStep) => options.onProgress?.({ message: `${backend}: ${step}`, backend, step });
  queue.forEach(({ b }) => report(b.name, 'queued'));

  const one = async (backend: BackendConfig, index: number) => {
    const started = Date.now();
    let current: DeployStep = 'lock';
    const run: BackendRun = {
      t: pool.get(backend),
      backend,
      config,
      log,
      signal,
      step: (s) => {
        current = s;
        log.debug(`${backend.name}: ${s}`);
        report(backend.name, s);
      },
    };
    try {
      await work(run, (done, total) =>
        options.onProgress?.({ message: `${backend.name}: upload`, backend: backend.name, step: 'upload', bytes: { done, total } }),
      );
      report(backend.name, 'done');
      results[index] = { backend: backend.name, ok: true, durationMs: Date.now() - started };
    } catch (err) {
      const cancelled = err instanceof CancelledError;
      const step = (err instanceof OperationError && isStep(err.step) ? err.step : undefined) ?? current;
      const message = cancelled ? 'Cancelled' : `${step} failed on ${backend.name}: ${describeError(err)}`;
      if (!cancelled) log.error(message);
      results[index] = {
        backend: backend.name,
        ok: false,
        step,
        error: message,
        cancelled: cancelled || undefined,
        durationMs: Date.now() - started,
      };
    }
  };

  try {
    await new Promise<void>((resolve) => {
      let active = 0;
      const pump = () => {
        while (active < concurrency && queue.length) {
          if (signal?.aborted) {
            for (const { b, i } of queue.splice(0))
              results[i] = { backend: b.name, ok: false, error: 'Cancelled', cancelled: true, durationMs: 0 };
            break;
          }
          const k = queue.findIndex(({ b }) => (running.get(b.group) ?? 0) < groupLimit(b.group));
          if (k < 0) break;
          const [{ b, i }] = queue.splice(k, 1);
          active++;
          running.set(b.group, (running.get(b.group) ?? 0) + 1);
          void one(b, i).finally(() => {
            active--;
            running.set(b.group, (running.get(b.group) ?? 1) - 1);
            pump();
          });
        }
        if (active === 0 && queue.length === 0) resolve();
      };
      pump();
    });
  } finally {
    if (!options.transports) await pool.dispose();
  }
  return { results };
}

function isStep(s: string | undefined): s is DeployStep {
  return !!s && ['lock', 'upload', 'verify', 'record', 'switch', 'restart', 'probe', 'prune'].includes(s);
}

/**
 * Deploys `artifact` to `backends` in parallel (config.deploy.concurrency): on each, lock →
 * upload → verify sha256 → release.json → switch `current` → restart hook → probe until the new
 * build is served → prune → unlock. A failure on one backend leaves its `current` as it was and
 * is reported with the failed step; it never stops the others. Cancellation (signal) stops
 * between and within steps, and puts back a `current` already switched.
 */
export function deployArtifact(options: DeployOptions): Promise<{ results: BackendResult[] }> {
  return forEachBackend(options, (run, onBytes) => deployOne(run, options.artifact, options.deployedBy, onBytes));
}

/**
 * Rollback by release: on each backend switch `current` back to `previous` (no upload, no
 * rebuild), run the restart hook and probe until the previous build is served.
 */
export function rollbackToPrevious(options: CommonOptions): Promise<{ results: BackendResult[] }> {
  return forEachBackend(options, (run) => rollbackOne(run, options.deployedBy));
}
