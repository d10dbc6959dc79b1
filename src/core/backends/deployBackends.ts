import type { Artifact } from '../phar/artifact';
import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, OperationError, describeError, throwIfAborted } from '../errors';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import type { Transport } from '../exec/transport';
import { TransportPool } from '../exec/transportFor';
import type { SshOptions } from '../exec/sshTransport';
import { describeBuild, probeVersion, servesBuild } from './probe';
import { resetFpmPool } from './fpmReset';
import type { ProbeResult } from './probe';
import type { OnProgress } from '../progress';
import {
  acquireLock,
  activatePrevious,
  discardRelease,
  placeRelease,
  pruneReleases,
  readCurrentRelease,
  setLinks,
  switchCurrent,
} from './releases';
import type { ReleaseLinks } from './releases';
import { Drainer, drains } from './drain';
import { delay } from '../delay';

/** The steps of a deploy on one backend, in order. */
export type DeployStep =
  'queued' | 'check' | 'lock' | 'upload' | 'verify' | 'record' | 'switch' | 'drain' | 'restart' | 'probe' | 'undrain' | 'prune' | 'done';

export interface BackendResult {
  backend: string;
  ok: boolean;
  /** The step that failed (or was running when cancelled). */
  step?: DeployStep;
  error?: string;
  cancelled?: boolean;
  /** Not touched on purpose (step "check"): it was the last healthy backend of its group. */
  skipped?: boolean;
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

/** The identity a deploy waits for: version, commit and phar sha256 (from the artifact's metadata). */
export interface BuildIdentity {
  version: string;
  commit?: string;
  sha256?: string;
}

/** Polls `url` until it serves `build` (same version, commit and sha256) or `deadlineMs` passes (then OperationError, step "probe"). */
export async function waitForBuild(
  url: string,
  build: BuildIdentity,
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
  const seen = last?.ok ? `it still serves ${describeBuild(last)}` : `last probe: ${last?.error?.message ?? 'none'}`;
  throw new OperationError(`${url} did not serve ${describeBuild(build)} within ${options.deadlineMs} ms; ${seen}`, {
    step: 'probe',
    backend: options.target,
  });
}

interface BackendRun {
  t: Transport;
  backend: BackendConfig;
  config: RolloutConfig;
  log: Logger;
  signal?: AbortSignal;
  step: (s: DeployStep) => void;
  /** A progress line about this backend at its current step (how the drain waited). */
  note: (message: string) => void;
  /** Takes the backend out of rotation before its restart hook (absent: no LB or drain off). */
  drainer?: Drainer;
}

/** What a failed switch left: whether the backend serves its previous release again (only then it goes back in rotation). */
interface Restore {
  servesPrevious: boolean;
}

/**
 * After `current` changed: run the restart hook and probe until `build` is served. On any
 * failure (or cancel) put the links back as they were, run the hook again so the old release
 * serves, and rethrow with a note saying so. A drained backend goes back in rotation on the new
 * build, or on its previous release once its probe shows that build again; otherwise it stays out
 * of rotation and the error says so and what to do.
 */
async function confirmSwitch(run: BackendRun, before: ReleaseLinks, build: BuildIdentity): Promise<void> {
  let failure: unknown;
  const restore: Restore = { servesPrevious: true };
  try {
    await switchAndProbe(run, before, build, restore);
  } catch (err) {
    failure = err;
  }
  const name = run.backend.name;
  if (run.drainer?.current.has(name)) {
    if (failure !== undefined && !restore.servesPrevious) {
      const msg = `${name} stays out of rotation on every load balancer, as it does not serve its previous release either. Fix ${name}, then run \`phar-rollout recover\` (it puts ${name} back in rotation once its probe answers) or deploy again.`;
      run.log.error(msg);
      if (failure instanceof CancelledError) throw failure;
      throw new OperationError(`${describeError(failure)}; ${msg}`, { step: stepOf(failure), backend: name, cause: failure });
    }
    run.step('undrain');
    try {
      await run.drainer.undrain(run.backend);
    } catch (e) {
      const msg = `${name} is still out of rotation: putting it back failed: ${describeError(e)}. Run \`phar-rollout recover\`, or the next split change (\`ramp\`, \`rollback --traffic\`) writes the file without it down.`;
      if (failure === undefined) throw new OperationError(msg, { step: 'undrain', backend: name, cause: e });
      run.log.error(msg);
      if (failure instanceof CancelledError) throw failure;
      throw new OperationError(`${describeError(failure)}; ${msg}`, { step: stepOf(failure), backend: name, cause: failure });
    }
    if (failure !== undefined && !(failure instanceof CancelledError))
      throw new OperationError(
        `${describeError(failure)}; back in rotation on every load balancer on its previous release. Fix what failed, then deploy again.`,
        { step: stepOf(failure), backend: name, cause: failure },
      );
  }
  if (failure !== undefined) throw failure;
}

function stepOf(err: unknown): string {
  return (err as OperationError).step ?? 'restart';
}

async function switchAndProbe(run: BackendRun, before: ReleaseLinks, build: BuildIdentity, restore: Restore): Promise<void> {
  const { t, backend, config, signal } = run;
  try {
    throwIfAborted(signal);
    await serveCurrent(run);
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
      if (backend.restart || backend.runtime === 'fpm') {
        try {
          await serveCurrent({ ...run, signal: undefined, step: () => undefined, note: () => undefined });
          const previous = before.current ? await readCurrentRelease(t, backend.dir) : undefined;
          if (backend.probe && previous) {
            try {
              await waitForBuild(backend.probe, previous, {
                deadlineMs: config.probe.deployDeadlineMs,
                timeoutMs: config.probe.timeoutMs,
                target: backend.name,
              });
              note += `, which it serves again`;
            } catch (e) {
              restore.servesPrevious = false;
              note += `, but ${describeError(e)}`;
            }
          }
        } catch (e) {
          restore.servesPrevious = false;
          note += `, but making it serve again failed: ${describeError(e)}`;
        }
      }
    } catch (e) {
      note = `switching current back FAILED: ${describeError(e)}`;
      restore.servesPrevious = false;
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

/**
 * Makes the backend serve what `current` points at, by its runtime: fpm resets OPcache and every
 * worker's realpath cache in the pool (no reload, nothing in flight is lost) and runs `restart`
 * only when that fails (the graceful-reload fallback, when configured); php-server and custom run
 * the `restart` hook.
 */
async function serveCurrent(run: BackendRun): Promise<void> {
  const { t, backend, config, signal } = run;
  if (backend.runtime === 'fpm') {
    run.step('restart');
    try {
      const r = await resetFpmPool(t, backend.dir, backend.upstream, {
        deadlineMs: config.probe.deployDeadlineMs,
        timeoutMs: config.probe.timeoutMs,
        signal,
      });
      run.log.debug(`${backend.name}: php-fpm caches reset in ${r.cleared.length} workers (${r.waves} waves)`);
      return;
    } catch (err) {
      if (err instanceof CancelledError || !backend.restart) throw err;
      run.log.warn(`${backend.name}: ${describeError(err)}; running the restart hook instead`);
    }
  }
  if (backend.restart) {
    if (run.drainer && !run.drainer.current.has(backend.name)) {
      // A backend that does not answer has nothing in flight (first deploy, or down): no drain.
      const now = backend.probe ? await probeVersion(backend.probe, { timeoutMs: config.probe.timeoutMs, signal }) : undefined;
      if (now && !now.ok) run.log.debug(`${backend.name}: not serving (${now.error?.message ?? 'probe failed'}), so no drain`);
      else {
        run.step('drain');
        const report = await run.drainer.drain(backend, signal);
        run.log.info(report.message);
        run.note(report.message);
      }
    }
    run.step('restart');
    await t.command(backend.restart, { signal, timeoutMs: config.probe.deployDeadlineMs });
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

  const drainer = config.loadBalancers.length > 0 ? new Drainer(config, pool, log) : undefined;
  const activeNames = new Set<string>();
  const deferred = new Set<string>();
  /** Resolves 'defer' to be queued again after the group's other backends in this run. */
  const one = async (backend: BackendConfig, index: number): Promise<'defer' | undefined> => {
    const started = Date.now();
    const lone = groupSize(backend.group) === 1;
    if (restarts(backend) && lone && drains(config, backend)) {
      const message = `refused ${backend.name}: it is the only backend of group ${backend.group}, so draining it before its restart would leave the group with no server. Add a backend to the group, or set "drain": false on ${backend.name} (its restart then interrupts the group's traffic).`;
      log.error(message);
      results[index] = { backend: backend.name, ok: false, step: 'check', error: message, durationMs: Date.now() - started };
      return undefined;
    }
    if (restarts(backend) && backend.drain === false)
      log.warn(
        lone
          ? `${backend.name} is the only backend of group ${backend.group} and "drain" is false: its restart interrupts the group's traffic`
          : `${backend.name}: "drain" is false: requests in flight during its restart may fail`,
      );
    try {
      const blocked = await lastHealthy(backend, config, activeNames, signal);
      if (blocked) {
        const sameGroup = (name: string) =>
          name !== backend.name && config.backends.some((o) => o.name === name && o.group === backend.group);
        const othersPending = queue.some(({ b }) => b.group === backend.group) || [...activeNames].some(sameGroup);
        if (othersPending && !deferred.has(backend.name)) {
          deferred.add(backend.name);
          log.info(`${backend.name}: ${blocked}; waiting for the other backends of group ${backend.group} first`);
          return 'defer';
        }
        const message = `skipped ${backend.name}: ${blocked}, so restarting it would leave group ${backend.group} with no server. Bring the others back (see \`status\`), then run again for ${backend.name}.`;
        log.warn(message);
        results[index] = {
          backend: backend.name,
          ok: false,
          step: 'check',
          error: message,
          skipped: true,
          durationMs: Date.now() - started,
        };
        return undefined;
      }
    } catch (err) {
      if (err instanceof CancelledError) {
        results[index] = { backend: backend.name, ok: false, error: 'Cancelled', cancelled: true, durationMs: Date.now() - started };
        return undefined;
      }
      throw err;
    }
    let current: DeployStep = 'lock';
    const run: BackendRun = {
      t: pool.get(backend),
      backend,
      config,
      log,
      signal,
      drainer: drainer && drains(config, backend) && !lone ? drainer : undefined,
      step: (s) => {
        current = s;
        log.debug(`${backend.name}: ${s}`);
        report(backend.name, s);
      },
      note: (message) => options.onProgress?.({ message, backend: backend.name, step: current }),
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
          activeNames.add(b.name);
          running.set(b.group, (running.get(b.group) ?? 0) + 1);
          void one(b, i).then(
            (outcome) => {
              active--;
              activeNames.delete(b.name);
              running.set(b.group, (running.get(b.group) ?? 1) - 1);
              if (outcome === 'defer') queue.push({ b, i });
              pump();
            },
            () => undefined,
          );
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

/** True when the operation would stop this backend serving for a moment (a restart hook, not the fpm reset). */
function restarts(b: BackendConfig): boolean {
  return !!b.restart && b.runtime !== 'fpm';
}

/**
 * Why restarting `backend` now would take down the last healthy backend of its group (undefined
 * when it would not): it is healthy itself and every other backend of the group is down (probe
 * fails) or being worked on by this run. A backend without a probe URL counts as available (it
 * cannot be told); a group of one is allowed with a warning (nothing else could serve anyway).
 */
async function lastHealthy(
  backend: BackendConfig,
  config: RolloutConfig,
  active: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (!restarts(backend)) return undefined;
  const others = config.backends.filter((o) => o.group === backend.group && o.name !== backend.name);
  if (!others.length || !backend.probe) return undefined;
  const self = await probeVersion(backend.probe, { timeoutMs: config.probe.timeoutMs, signal });
  if (!self.ok) return undefined; // down already: restarting it loses nothing
  const reasons: string[] = [];
  for (const o of others) {
    if (active.has(o.name)) reasons.push(`${o.name} is being restarted by this run`);
    else if (!o.probe) return undefined;
    else {
      const p = await probeVersion(o.probe, { timeoutMs: config.probe.timeoutMs, signal });
      if (p.ok) return undefined;
      reasons.push(`${o.name} is down (${p.error?.message ?? 'probe failed'})`);
    }
  }
  return `it is the last healthy backend of group ${backend.group} (${reasons.join('; ')})`;
}

function isStep(s: string | undefined): s is DeployStep {
  return !!s && ['check', 'lock', 'upload', 'verify', 'record', 'switch', 'drain', 'restart', 'probe', 'undrain', 'prune'].includes(s);
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
