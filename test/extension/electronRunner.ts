/**
 * `npm run test:electron`: the extension-host suites (the same files, see suites.ts and index.ts)
 * in desktop VS Code through @vscode/test-electron, on machines where VS Code can be downloaded.
 * Where it cannot, it says so and exits 0 with nothing counted as passed: runner.ts (code-server,
 * `npm run test:extension`) stays the gate. Not part of `npm test`.
 *
 * Environment: PHAR_ROLLOUT_VSCODE_VERSION (default "stable"), PHAR_ROLLOUT_VSCODE_EXECUTABLE (an
 * installed VS Code instead of a download), PHAR_ROLLOUT_TEST_GREP, PHAR_ROLLOUT_KEEP_TMP=1. On
 * Linux without a display, run it under xvfb-run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { quietSettings } from '../helpers/codeServer';
import type { ExtensionSuiteName, PreparedSuite } from './suites';
import { checkPrerequisites, extensionPath, extensionSuites, prepareSuite, readResults, suitePassed, testsIndex } from './suites';

function say(line: string): void {
  process.stdout.write(`[electron-tests] ${line}\n`);
}

/** The VS Code to run, or the reason there is none. */
async function vscodeExecutable(): Promise<{ path: string } | { reason: string }> {
  const given = process.env.PHAR_ROLLOUT_VSCODE_EXECUTABLE;
  if (given) return fs.existsSync(given) ? { path: given } : { reason: `PHAR_ROLLOUT_VSCODE_EXECUTABLE ${given} does not exist` };
  try {
    return { path: await downloadAndUnzipVSCode({ version: process.env.PHAR_ROLLOUT_VSCODE_VERSION || 'stable', timeout: 30000 }) };
  } catch (err) {
    return { reason: ((err as Error)?.message ?? String(err)).split('\n')[0] };
  }
}

async function runSuite(executable: string, name: ExtensionSuiteName): Promise<{ ok: boolean; passed: number; failed: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phar-rollout-electron-'));
  let suite: PreparedSuite | undefined;
  try {
    suite = await prepareSuite(name, tmp, say);
    const userDataDir = path.join(tmp, 'data');
    fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
    fs.writeFileSync(
      path.join(userDataDir, 'User', 'settings.json'),
      JSON.stringify({ ...quietSettings(suite.trust), ...(suite.settings ?? {}) }, null, 2) + '\n',
    );
    let code = 0;
    try {
      await runTests({
        vscodeExecutablePath: executable,
        extensionDevelopmentPath: extensionPath,
        extensionTestsPath: testsIndex,
        extensionTestsEnv: suite.env,
        launchArgs: [
          suite.workspace,
          `--user-data-dir=${userDataDir}`,
          `--extensions-dir=${path.join(tmp, 'extensions')}`,
          '--skip-welcome',
          '--skip-release-notes',
          ...(suite.trust ? ['--disable-workspace-trust'] : []),
        ],
      });
    } catch (err) {
      say(`suite ${name}: ${(err as Error)?.message ?? err}`);
      code = 1;
    }
    const results = readResults(suite.resultsFile);
    const ok = suitePassed(code, results);
    say(`suite ${name}: ${results ? `${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped` : 'no results'}`);
    return { ok, passed: results?.passed ?? 0, failed: results?.failed ?? 0 };
  } finally {
    await suite?.dispose();
    if (process.env.PHAR_ROLLOUT_KEEP_TMP === '1') say(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function main(): Promise<number> {
  checkPrerequisites();
  const exe = await vscodeExecutable();
  if ('reason' in exe) {
    process.stdout.write(
      `test:electron: VS Code could not be downloaded (${exe.reason}): not run; the code-server runner (npm run test:extension) is the gate\n`,
    );
    return 0;
  }
  say(`VS Code ${exe.path}`);
  let passed = 0;
  let failed = 0;
  let ok = true;
  for (const name of extensionSuites) {
    const r = await runSuite(exe.path, name).catch((err: Error) => {
      say(`suite ${name}: ${err?.stack ?? err}`);
      return { ok: false, passed: 0, failed: 1 };
    });
    passed += r.passed;
    failed += r.failed;
    ok &&= r.ok;
  }
  process.stdout.write(`test:electron: ${passed} passed, ${failed} failed\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`[electron-tests] ${(err as Error)?.stack ?? err}`);
    process.exit(1);
  },
);
