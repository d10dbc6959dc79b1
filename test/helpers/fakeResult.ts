import type { RunResult } from '../../src/core/exec/process';

/** What a fake transport's `exec` answers: the remote script's stdout and exit code, nothing else. */
export function fakeResult(args: readonly string[], stdout: string, code = 0): RunResult {
  return { command: 'sh', args: [...args], code, signal: null, stdout, stderr: '', durationMs: 1 };
}
