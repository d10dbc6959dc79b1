import type { DeployStep } from '../core/backends/deployBackends';

/** The steps of one backend's deploy in order; `queued` is not progress. */
const STEPS: readonly DeployStep[] = ['lock', 'upload', 'verify', 'record', 'switch', 'restart', 'probe', 'prune', 'done'];

/**
 * The progress bar's increments for a deploy to `backends` backends: each backend owns an equal
 * share of 100 %, a step moves it to that step's place in STEPS, `done` fills it, and nothing
 * (a `queued`, a repeated or skipped step) can make the total pass 100 %. No vscode import.
 */
export function deployProgress(backends: number): (backend: string, step: DeployStep | string) => number | undefined {
  const share = 100 / Math.max(1, backends);
  const reported = new Map<string, number>();
  return (backend, step) => {
    // Progress carries any step name; one this table does not know is not progress.
    const index = (STEPS as readonly string[]).indexOf(step);
    if (index < 0) return undefined;
    const target = (share * (index + 1)) / STEPS.length;
    const before = reported.get(backend) ?? 0;
    if (target <= before) return undefined;
    reported.set(backend, target);
    return target - before;
  };
}
