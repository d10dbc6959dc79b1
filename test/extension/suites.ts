/**
 * The extension-host suites as both launchers run them (runner.ts on code-server, electronRunner.ts
 * on desktop VS Code): the same test files (index.ts picks them by PHAR_ROLLOUT_EXT_SUITE), the same
 * workspace, environment and settings. Only the way VS Code is started differs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyFixture } from '../helpers/fixture';
import { repoRoot } from '../helpers/codeServer';
import { CliSandbox } from '../helpers/sandbox';

export type ExtensionSuiteName = 'project' | 'sandbox' | 'untrusted';

/** In run order. */
export const extensionSuites: readonly ExtensionSuiteName[] = ['project', 'sandbox', 'untrusted'];

export const root = repoRoot();
export const extensionPath = path.resolve(process.env.PHAR_ROLLOUT_EXTENSION_PATH || root);
export const fixture = path.resolve(process.env.PHAR_ROLLOUT_FIXTURE || path.join(root, 'test', 'fixtures', 'sample-app'));
/** What VS Code loads as extensionTestsPath. */
export const testsIndex = path.join(root, 'out', 'test', 'extension', 'index.js');

/** What index.ts writes to PHAR_ROLLOUT_TEST_RESULTS. */
export interface SuiteResults {
  passed: number;
  failed: number;
  skipped: number;
}

/** A suite ready to run in `tmp`: its workspace, the tests' environment and VS Code's settings. */
export interface PreparedSuite {
  name: ExtensionSuiteName;
  workspace: string;
  /** false: workspace trust is on and the folder opens in Restricted Mode. */
  trust: boolean;
  /** User settings on top of the launcher's quiet defaults. */
  settings?: Record<string, unknown>;
  /** For the extension host (the tests read these). */
  env: Record<string, string>;
  reportFile: string;
  resultsFile: string;
  /** Stops what the suite started (the sandbox); safe on every path. */
  dispose(): Promise<void>;
}

/** Programs the extension may start; in Restricted Mode none of them may run. */
const SPIED = ['php', 'composer', 'git', 'ssh', 'nginx', 'box'];

/**
 * A PATH folder whose php, composer, git, ssh, nginx and box note each call in `log` and then run
 * the real program: the untrusted suite asserts that the log stays empty.
 */
function spyBin(dir: string, log: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const realPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => path.resolve(p) !== dir)
    .join(path.delimiter);
  for (const name of SPIED) {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> '${log}'\nPATH='${realPath}' exec ${name} "$@"\n`, { mode: 0o755 });
  }
  return dir;
}

/** Throws when something a launcher needs is missing (with the command that makes it). */
export function checkPrerequisites(): void {
  for (const [what, p] of [
    ['extension manifest', path.join(extensionPath, 'package.json')],
    ['test index (npm run build-tests)', testsIndex],
    ['fixture workspace', path.join(fixture, 'composer.json')],
  ]) {
    if (!fs.existsSync(p)) throw new Error(`missing ${what}: ${p}`);
  }
  const entryMain = JSON.parse(fs.readFileSync(path.join(extensionPath, 'package.json'), 'utf8')).main as string | undefined;
  if (
    entryMain &&
    !fs.existsSync(path.resolve(extensionPath, entryMain)) &&
    !fs.existsSync(path.resolve(extensionPath, `${entryMain}.js`))
  ) {
    throw new Error(`the extension's main ${entryMain} does not exist: run npm run compile`);
  }
}

/** Brings up the suite's workspace in `tmp` (the sandbox for "sandbox", a fixture copy otherwise). */
export async function prepareSuite(name: ExtensionSuiteName, tmp: string, say: (line: string) => void): Promise<PreparedSuite> {
  const sandbox = name === 'sandbox' ? new CliSandbox(path.join(tmp, 'sandbox'), say) : undefined;
  let workspace = path.join(tmp, 'sample-app');
  let sandboxJson = '';
  try {
    if (sandbox) {
      const info = await sandbox.up();
      workspace = info.project;
      sandboxJson = JSON.stringify(info);
    } else copyFixture(fixture, workspace);
  } catch (err) {
    await sandbox?.down();
    throw err;
  }
  const reportFile = path.join(tmp, 'report.txt');
  const resultsFile = path.join(tmp, 'results.json');
  const spyLog = path.join(tmp, 'spy.log');
  return {
    name,
    workspace,
    trust: name !== 'untrusted',
    // The built-in git extension runs git on its own; off, so the spy sees only this extension.
    settings: name === 'untrusted' ? { 'git.enabled': false, 'git.autoRepositoryDetection': false } : undefined,
    env: {
      // The extension host resolves PATH from the login shell, so the test puts this folder first itself.
      ...(name === 'untrusted' ? { PHAR_ROLLOUT_SPY_BIN: spyBin(path.join(tmp, 'spy-bin'), spyLog), PHAR_ROLLOUT_SPY_LOG: spyLog } : {}),
      PHAR_ROLLOUT_TEST_WORKSPACE: workspace,
      PHAR_ROLLOUT_TEST_REPORT: reportFile,
      PHAR_ROLLOUT_TEST_RESULTS: resultsFile,
      PHAR_ROLLOUT_REPO_ROOT: root,
      PHAR_ROLLOUT_EXT_SUITE: name,
      PHAR_ROLLOUT_SANDBOX: sandboxJson,
    },
    reportFile,
    resultsFile,
    dispose: async () => {
      await sandbox?.down();
    },
  };
}

/** The results the tests wrote, or undefined when they never got to the end. */
export function readResults(file: string): SuiteResults | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResults;
  } catch {
    return undefined;
  }
}

/** A run passes only with results, no failure, and at least one test (unless a grep selected none). */
export function suitePassed(exitCode: number, results: SuiteResults | undefined): boolean {
  return (
    exitCode === 0 && results !== undefined && results.failed === 0 && (results.passed > 0 || Boolean(process.env.PHAR_ROLLOUT_TEST_GREP))
  );
}
