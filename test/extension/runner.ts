/**
 * `node out/test/extension/runner.js`: runs the mocha tests in out/test/extension inside the
 * real VS Code extension host of code-server, driven by headless chromium.
 *
 * - the extension under test is the repo root (extensionDevelopmentPath), so run
 *   `npm run compile && npm run build-tests` first;
 * - the workspace is a temporary copy of test/fixtures/sample-app (the repo is never written);
 *   the tests see it as vscode.workspace.workspaceFolders[0] and $PHAR_ROLLOUT_TEST_WORKSPACE;
 * - exits with the tests' exit code; on failure saves test-results/extension-host.png.
 *
 * The suites (workspaces, environment, the CLI sandbox) are in suites.ts, shared with
 * electronRunner.ts (`npm run test:electron`, desktop VS Code): one set of suite files, two launchers.
 *
 * Environment: PHAR_ROLLOUT_EXT_TIMEOUT_MS (overall deadline, default 6 min),
 * PHAR_ROLLOUT_TEST_GREP (mocha grep), PHAR_ROLLOUT_KEEP_TMP=1 (keep the temp folder),
 * PHAR_ROLLOUT_EXTENSION_PATH / PHAR_ROLLOUT_FIXTURE (try the harness on another extension or folder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import type { BrowserSession } from '../helpers/browser';
import { launchBrowser } from '../helpers/browser';
import type { CodeServer } from '../helpers/codeServer';
import { remoteUri, startCodeServer, workbenchUrl } from '../helpers/codeServer';
import type { ExtensionSuiteName, PreparedSuite } from './suites';
import { checkPrerequisites, extensionPath, extensionSuites, prepareSuite, readResults, root, suitePassed, testsIndex } from './suites';

const resultsDir = path.join(root, 'test-results');
const deadlineMs = Number(process.env.PHAR_ROLLOUT_EXT_TIMEOUT_MS || 6 * 60 * 1000);

function say(line: string): void {
  process.stdout.write(`[extension-tests] ${line}\n`);
}

/** Prints what the tests append to the report file, as it grows. */
class ReportTail {
  private offset = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly file: string) {
    this.timer = setInterval(() => this.flush(), 200);
  }
  flush(): void {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r');
      const size = fs.fstatSync(fd).size;
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        fs.readSync(fd, buf, 0, buf.length, this.offset);
        const text = buf.toString('utf8');
        const end = text.lastIndexOf('\n') + 1; // whole lines only
        if (end > 0) {
          process.stdout.write(text.slice(0, end));
          this.offset += Buffer.byteLength(text.slice(0, end));
        }
      }
    } catch {
      /* not written yet */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

async function screenshot(page: Page | undefined, file: string): Promise<void> {
  if (!page || page.isClosed()) return;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file, timeout: 10000 });
    say(`screenshot: ${path.relative(root, file)}`);
  } catch (err) {
    say(`could not take a screenshot: ${(err as Error).message}`);
  }
}

/** Totals over the suites; the closing line is printed after everything is stopped. */
const totals = { passed: 0, failed: 0, skipped: 0, broken: false };

async function main(): Promise<number> {
  let code = 0;
  for (const suite of extensionSuites) {
    say(`suite ${suite}`);
    const c = await runSuite(suite).catch((err) => {
      console.error(`[extension-tests] suite ${suite}: ${(err as Error)?.stack ?? err}`);
      totals.broken = true;
      return 1;
    });
    if (c !== 0) code = c;
  }
  return code;
}

async function runSuite(name: ExtensionSuiteName): Promise<number> {
  checkPrerequisites();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phar-rollout-ext-'));
  let suite: PreparedSuite | undefined;
  let server: CodeServer | undefined;
  let session: BrowserSession | undefined;
  let tail: ReportTail | undefined;
  let finished = false;
  const cleanup = async () => {
    tail?.stop();
    await session?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await suite?.dispose();
    if (process.env.PHAR_ROLLOUT_KEEP_TMP === '1') say(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const started = Date.now();
  let exitCode: number;
  try {
    suite = await prepareSuite(name, tmp, say);
    server = await startCodeServer({
      userDataDir: path.join(tmp, 'data'),
      extensionDir: path.join(tmp, 'extensions'),
      workspace: suite.workspace,
      trust: suite.trust,
      settings: suite.settings,
      env: suite.env,
    });
    say(`code-server ${server.url} (log ${server.logFile}) after ${Date.now() - started} ms`);
    tail = new ReportTail(suite.reportFile);

    session = await launchBrowser();
    const page = session.page;

    let resolveExit!: (code: number) => void;
    const exitPromise = new Promise<number>((resolve) => (resolveExit = resolve));
    await page.exposeFunction('codeAutomationExit', (code: number) => {
      resolveExit(typeof code === 'number' ? code : 1);
    });
    await page.exposeFunction('codeAutomationLog', (level: string, args: unknown[]) => {
      // The workbench's own log in test mode; keep warnings and errors, which explain a hang.
      if (level === 'error' || level === 'warn') {
        const text = (Array.isArray(args) ? args : [args]).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
        say(`workbench ${level}: ${text}`);
      }
    });
    page.on('pageerror', (err) => say(`page error: ${err.message}`));
    page.on('crash', () => resolveExit(1));

    const url = workbenchUrl(server, suite.workspace, [
      ['extensionDevelopmentPath', remoteUri(server, extensionPath)],
      ['extensionTestsPath', remoteUri(server, testsIndex)],
      ['skipWelcome', 'true'],
    ]);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });

    const remaining = deadlineMs - (Date.now() - started);
    let timer: NodeJS.Timeout | undefined;
    exitCode = await Promise.race([
      exitPromise,
      server.exited.then((code) => {
        if (!finished) say(`code-server exited (${code}) before the tests finished`);
        return 1;
      }),
      new Promise<number>((resolve) => {
        timer = setTimeout(() => {
          say(`no result within ${deadlineMs} ms`);
          resolve(1);
        }, remaining);
      }),
    ]);
    if (timer) clearTimeout(timer);
    finished = true;
    tail.flush();

    const results = readResults(suite.resultsFile);
    if (!suitePassed(exitCode, results)) exitCode = exitCode || 1;
    await screenshot(page, path.join(resultsDir, `extension-host-${name}-end.png`));
    if (exitCode !== 0) {
      await screenshot(page, path.join(resultsDir, `extension-host-${name}.png`));
      if (!results) say(`the tests wrote no results; code-server log: ${server.logFile}`);
    }
    say(`finished with exit code ${exitCode} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (results) {
      totals.passed += results.passed;
      totals.failed += results.failed;
      totals.skipped += results.skipped;
    } else totals.broken = true;
    return exitCode;
  } catch (err) {
    await screenshot(session?.page, path.join(resultsDir, `extension-host-${name}.png`));
    if (server) {
      try {
        const log = fs.readFileSync(server.logFile, 'utf8').split('\n').slice(-30).join('\n');
        say(`code-server log (last lines):\n${log}`);
      } catch {
        /* no log */
      }
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

const summary = () => `${totals.passed} passed, ${totals.failed + (totals.broken ? 1 : 0)} failed, ${totals.skipped} skipped`;

main().then(
  (code) => {
    process.stdout.write(`${summary()}\n`);
    process.exit(code);
  },
  (err) => {
    console.error(`[extension-tests] ${(err as Error)?.stack ?? err}`);
    process.stdout.write(`${summary()}\n`);
    process.exit(1);
  },
);
