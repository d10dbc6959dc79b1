/**
 * `node out/test/ui/runner.js`: UI tests with Playwright (playwright-core + Debian's chromium)
 * against code-server with the extension installed, on a temporary copy of
 * test/fixtures/sample-app. Runs every out/test/ui/*.ui.js in name order, sequentially, in one
 * workbench page; each exports `tests: UiTest[]`.
 *
 * Screenshots go to test-results/. Prints `N passed, N failed` last and exits non-zero on a failure.
 *
 * Environment: PHAR_ROLLOUT_UI_TIMEOUT_MS (overall deadline, default 6 min),
 * PHAR_ROLLOUT_UI_GREP (run only tests whose name contains it), PHAR_ROLLOUT_KEEP_TMP=1,
 * PHAR_ROLLOUT_EXTENSION_PATH / PHAR_ROLLOUT_FIXTURE (try the harness on another extension or folder).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { BrowserSession, launchBrowser } from '../helpers/browser';
import { CodeServer, repoRoot, startCodeServer, workbenchUrl } from '../helpers/codeServer';

export interface UiContext {
  page: Page;
  server: CodeServer;
  /** The temporary copy of the fixture that the workbench has open. */
  workspace: string;
  repoRoot: string;
  /** From the fixture's composer.json: name after the slash, and version. */
  app: string;
  version: string;
  /** Saves test-results/<name> (a full-page screenshot, or of `target` when given). */
  screenshot(name: string, target?: Locator): Promise<string>;
  /** Polls `check` until it returns something truthy; throws `what` with the last state at the deadline. */
  waitFor<T>(what: string, check: () => Promise<T | undefined | false | null>, timeoutMs?: number): Promise<T>;
  /** F1, types the command's full title ("Category: Title"), picks exactly that entry, Enter. */
  runCommand(title: string): Promise<void>;
  log(line: string): void;
}

export interface UiTest {
  name: string;
  timeoutMs?: number;
  run(ctx: UiContext): Promise<void>;
}

const root = repoRoot();
const extensionPath = path.resolve(process.env.PHAR_ROLLOUT_EXTENSION_PATH || root);
const fixture = path.resolve(process.env.PHAR_ROLLOUT_FIXTURE || path.join(root, 'test', 'fixtures', 'sample-app'));
const resultsDir = path.join(root, 'test-results');
const deadlineMs = Number(process.env.PHAR_ROLLOUT_UI_TIMEOUT_MS || 6 * 60 * 1000);

function say(line: string): void {
  process.stdout.write(`[ui] ${line}\n`);
}

/** Top-level entries of the repo that an installed extension does not need. */
const NOT_IN_EXTENSION = new Set(['.git', '.cache', '.ci', 'node_modules', 'out', 'src', 'test', 'test-results', 'bench', '.rollout', 'scripts']);

/** Copies the extension (as an unpacked install) into extensionsDir; returns its folder. */
function installExtensionCopy(from: string, extensionsDir: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string; main?: string };
  if (manifest.main && !fs.existsSync(path.resolve(from, manifest.main)) && !fs.existsSync(path.resolve(from, `${manifest.main}.js`))) {
    throw new Error(`the extension's main ${manifest.main} does not exist: run npm run compile`);
  }
  const target = path.join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`);
  fs.mkdirSync(target, { recursive: true });
  for (const entry of fs.readdirSync(from)) {
    if (NOT_IN_EXTENSION.has(entry) || entry.endsWith('.vsix')) continue;
    fs.cpSync(path.join(from, entry), path.join(target, entry), { recursive: true, dereference: true });
  }
  return target;
}

function copyFixture(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(from, src);
      if (!rel) return true;
      const top = rel.split(path.sep)[0];
      return top !== 'vendor' && top !== '.rollout' && top !== 'node_modules' && !rel.endsWith('.phar');
    },
  });
}

function loadTests(): Array<{ file: string; test: UiTest }> {
  const dir = __dirname;
  const found: Array<{ file: string; test: UiTest }> = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.ui.js')).sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, name)) as { tests?: UiTest[] };
    for (const test of mod.tests ?? []) found.push({ file: name, test });
  }
  const grep = process.env.PHAR_ROLLOUT_UI_GREP;
  return grep ? found.filter((t) => t.test.name.includes(grep)) : found;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function makeContext(page: Page, server: CodeServer, workspace: string, app: string, version: string): UiContext {
  const ctx: UiContext = {
    page,
    server,
    workspace,
    repoRoot: root,
    app,
    version,
    log: say,
    async screenshot(name, target) {
      fs.mkdirSync(resultsDir, { recursive: true });
      const file = path.join(resultsDir, name);
      if (target) await target.screenshot({ path: file, timeout: 10000 });
      else await page.screenshot({ path: file, timeout: 10000 });
      say(`screenshot: ${path.relative(root, file)}`);
      return file;
    },
    async waitFor(what, check, timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          const value = await check();
          if (value) return value;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
        }
        await page.waitForTimeout(100); // poll interval, not a synchronisation
      }
    },
    async runCommand(title) {
      const input = page.locator('.quick-input-widget input');
      await ctx.waitFor('the command palette', async () => {
        if (!(await input.isVisible())) await page.keyboard.press('F1');
        return (await input.isVisible()) && ((await input.inputValue()).startsWith('>') || undefined);
      }, 20000);
      await input.fill('>');
      await input.pressSequentially(title);
      const exact = page.locator('.quick-input-widget .monaco-list-row', { has: page.locator('.label-name', { hasText: title }) });
      const row = await ctx.waitFor(`"${title}" in the command palette`, async () => {
        const rows = await exact.all();
        for (const r of rows) {
          const label = ((await r.locator('.label-name').first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
          if (label === title) return r;
        }
        return undefined;
      }, 20000);
      // Enter on the focused entry as a person would; click the exact one if the list put another first.
      if ((await row.getAttribute('class'))?.split(/\s+/).includes('focused')) await page.keyboard.press('Enter');
      else await row.click();
      await ctx.waitFor('the command palette to close', async () => !(await input.isVisible()), 10000);
    },
  };
  return ctx;
}

/** The closing line, printed after everything is stopped. */
let summary = '0 passed, 1 failed';

async function main(): Promise<number> {
  const started = Date.now();
  const composer = JSON.parse(fs.readFileSync(path.join(fixture, 'composer.json'), 'utf8')) as { name?: string; version?: string };
  const app = String(composer.name ?? path.basename(fixture)).split('/').pop()!;
  const version = String(composer.version ?? '');
  if (!version) throw new Error(`${fixture}/composer.json has no "version"`);
  const tests = loadTests();
  if (tests.length === 0) throw new Error(`no *.ui.js tests in ${__dirname} (npm run build-tests)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'phar-rollout-ui-'));
  const workspace = path.join(tmp, 'sample-app');
  copyFixture(fixture, workspace);
  const extensionsDir = path.join(tmp, 'extensions');
  installExtensionCopy(extensionPath, extensionsDir);

  let server: CodeServer | undefined;
  let session: BrowserSession | undefined;
  const cleanup = async () => {
    await session?.close().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    if (process.env.PHAR_ROLLOUT_KEEP_TMP === '1') say(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let passed = 0;
  let failed = 0;
  try {
    server = await startCodeServer({
      userDataDir: path.join(tmp, 'data'),
      extensionDir: extensionsDir,
      workspace,
      trust: true,
    });
    say(`code-server ${server.url} (log ${server.logFile})`);
    session = await launchBrowser();
    const page = session.page;
    page.on('pageerror', (err) => say(`page error: ${err.message}`));
    await page.goto(workbenchUrl(server, workspace), { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60000 });
    say(`workbench up after ${Date.now() - started} ms`);

    const ctx = makeContext(page, server, workspace, app, version);
    for (const { file, test } of tests) {
      const remaining = deadlineMs - (Date.now() - started);
      const t0 = Date.now();
      try {
        if (remaining <= 0) throw new Error(`overall deadline of ${deadlineMs} ms passed before this test`);
        await withTimeout(test.name, Math.min(test.timeoutMs ?? 180000, remaining), test.run(ctx));
        passed++;
        say(`ok ${test.name} (${Date.now() - t0} ms)`);
      } catch (err) {
        failed++;
        say(`FAIL ${test.name} [${file}] (${Date.now() - t0} ms)\n${(err as Error)?.stack ?? err}`);
        await ctx.screenshot(`failure-${slug(test.name)}.png`).catch((e) => say(`no screenshot: ${(e as Error).message}`));
      }
    }
  } catch (err) {
    failed++;
    say(`setup failed: ${(err as Error)?.stack ?? err}`);
    if (session && !session.page.isClosed()) {
      fs.mkdirSync(resultsDir, { recursive: true });
      await session.page.screenshot({ path: path.join(resultsDir, 'failure-setup.png'), timeout: 10000 }).catch(() => undefined);
    }
    if (server) {
      try {
        say(`code-server log (last lines):\n${fs.readFileSync(server.logFile, 'utf8').split('\n').slice(-30).join('\n')}`);
      } catch {
        /* no log */
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
  say(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  summary = `${passed} passed, ${failed} failed`;
  return failed > 0 || passed === 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.stdout.write(`${summary}\n`);
      process.exit(code);
    },
    (err) => {
      console.error(`[ui] ${(err as Error)?.stack ?? err}`);
      process.stdout.write(`${summary}\n`);
      process.exit(1);
    },
  );
}
