/**
 * `node out/test/ui/runner.js`: UI tests with Playwright (playwright-core + Debian's chromium)
 * against code-server with the extension installed. Two suites, one code-server each:
 *
 * - "project": a temporary copy of test/fixtures/sample-app; runs out/test/ui/*.ui.js;
 * - "sandbox": the project of `phar-rollout sandbox up` (2 stable + 1 canary php backends and an
 *   nginx LB on loopback, all serving the fixture's version); runs out/test/ui/sandbox/*.ui.js.
 *   `sandbox down` runs on every path (failures and SIGINT/SIGTERM included).
 *
 * Each suite runs its files in name order, sequentially, in one workbench page; each file exports
 * `tests: UiTest[]`. A test with `dependsOnPrevious` is not run after an earlier test of its
 * suite failed (it counts as failed), and a grep that selects it brings the tests it builds on.
 *
 * Screenshots go to test-results/. Prints `N passed, N failed` (both suites) last and exits
 * non-zero on a failure.
 *
 * Environment: PHAR_ROLLOUT_UI_TIMEOUT_MS (deadline per suite, default 6 min),
 * PHAR_ROLLOUT_UI_GREP (run only tests whose name contains it), PHAR_ROLLOUT_UI_SUITE (project
 * or sandbox: run only that suite), PHAR_ROLLOUT_UI_TRACE=1 (a Playwright trace per suite in
 * test-results/trace-<suite>.zip), PHAR_ROLLOUT_KEEP_TMP=1, PHAR_ROLLOUT_EXTENSION_PATH /
 * PHAR_ROLLOUT_FIXTURE (try the harness on another extension or folder).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyFixture } from '../helpers/fixture';
import { waitFor } from '../helpers/wait';
import type { Locator, Page } from 'playwright-core';
import type { BrowserSession } from '../helpers/browser';
import { launchBrowser } from '../helpers/browser';
import type { CodeServer } from '../helpers/codeServer';
import { repoRoot, startCodeServer, workbenchUrl } from '../helpers/codeServer';

export type SuiteName = 'project' | 'sandbox';

/** What `sandbox up --json` prints (the part the tests use). */
export interface SandboxInfo {
  project: string;
  lbUrl: string;
  backends: Array<{ name: string; group: 'stable' | 'canary'; url: string; pid?: number | null }>;
  artifact?: string;
}

/** One visible row of a side-bar tree, as a person reads it. */
export interface TreeRow {
  label: string;
  description: string;
  /** 1 for top-level rows. */
  level: number;
  /** undefined for a row without children. */
  expanded?: boolean;
  /** The codicon of the row's icon ("pass", "error", …), if it has one. */
  icon?: string;
}

export interface UiContext {
  page: Page;
  server: CodeServer;
  suite: SuiteName;
  /** The folder the workbench has open (a copy of the fixture, or the sandbox's project). */
  workspace: string;
  repoRoot: string;
  /** From the workspace's composer.json at the start of the suite: name after the slash, and version. */
  app: string;
  version: string;
  /** The sandbox suite's `sandbox up --json` output. */
  sandbox?: SandboxInfo;
  /** Saves test-results/<name> (a full-page screenshot, or of `target` when given). */
  screenshot(name: string, target?: Locator): Promise<string>;
  /** Polls `check` until it returns something truthy; throws `what` with the last state at the deadline. */
  waitFor<T>(what: string, check: () => Promise<T | undefined | false | null>, timeoutMs?: number): Promise<T>;
  /** F1, types the command's full title ("Category: Title"), picks exactly that entry, Enter. */
  runCommand(title: string): Promise<void>;
  /** Clicks the activity-bar icon whose label contains `title` unless its side bar is already open. */
  openContainer(title: string): Promise<void>;
  /** The side-bar pane of a view by its name ("Rollout"), expanded if it was collapsed. */
  view(name: string): Promise<Locator>;
  /** The rendered rows of a view, in screen order. */
  treeRows(view: string): Promise<TreeRow[]>;
  /** The row of `view` whose label is exactly `label`. */
  treeRow(view: string, label: string): Promise<Locator>;
  /** Texts of the status bar items (codicons render as no text). */
  statusTexts(): Promise<string[]>;
  /** Right-clicks `target` and chooses the context-menu entry titled exactly `item`. */
  contextMenu(target: Locator, item: string): Promise<void>;
  /** Waits for the open quick pick to list an item labelled exactly `label` (icons aside) and clicks it. */
  pickQuickItem(label: string, timeoutMs?: number): Promise<void>;
  /** Waits for a modal dialog with a button `button` and clicks it; returns the dialog's message. */
  dialogButton(button: string, timeoutMs?: number): Promise<string>;
  /** Waits for a notification toast whose message matches `text`; returns the message. */
  notification(text: string | RegExp, timeoutMs?: number): Promise<string>;
  log(line: string): void;
}

export interface UiTest {
  name: string;
  timeoutMs?: number;
  /** Builds on the state the previous test of the same suite left (not run after a failure). */
  dependsOnPrevious?: boolean;
  run(ctx: UiContext): Promise<void>;
}

const root = repoRoot();
const extensionPath = path.resolve(process.env.PHAR_ROLLOUT_EXTENSION_PATH || root);
const fixture = path.resolve(process.env.PHAR_ROLLOUT_FIXTURE || path.join(root, 'test', 'fixtures', 'sample-app'));
const resultsDir = path.join(root, 'test-results');
const cliPath = path.join(root, 'dist', 'cli.js');
const tracing = process.env.PHAR_ROLLOUT_UI_TRACE === '1';
const deadlineMs = Number(process.env.PHAR_ROLLOUT_UI_TIMEOUT_MS || 6 * 60 * 1000);

function say(line: string): void {
  process.stdout.write(`[ui] ${line}\n`);
}

/** Top-level entries of the repo that an installed extension does not need. */
const NOT_IN_EXTENSION = new Set([
  '.git',
  '.cache',
  '.ci',
  'node_modules',
  'out',
  'src',
  'test',
  'test-results',
  'bench',
  '.rollout',
  'scripts',
]);

/** Copies the extension (as an unpacked install) into extensionsDir; returns its folder. */
function installExtensionCopy(from: string, extensionsDir: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(from, 'package.json'), 'utf8')) as {
    publisher: string;
    name: string;
    version: string;
    main?: string;
  };
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

interface LoadedTest {
  file: string;
  test: UiTest;
}

/** The tests of a folder in file-name order, filtered by PHAR_ROLLOUT_UI_GREP (with what they depend on). */
function loadTests(dir: string): LoadedTest[] {
  if (!fs.existsSync(dir)) return [];
  const all: LoadedTest[] = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.ui.js'))
    .sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, name)) as { tests?: UiTest[] };
    for (const test of mod.tests ?? []) all.push({ file: name, test });
  }
  const grep = process.env.PHAR_ROLLOUT_UI_GREP;
  if (!grep) return all;
  const keep = new Set<number>();
  all.forEach((t, i) => {
    if (!t.test.name.includes(grep)) return;
    keep.add(i);
    // A step that builds on the previous one needs it (and what that one needs) to run first.
    for (let j = i; j > 0 && all[j].test.dependsOnPrevious; j--) keep.add(j - 1);
  });
  return all.filter((_, i) => keep.has(i));
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}

function exactText(text: string): RegExp {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
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

function makeContext(
  page: Page,
  server: CodeServer,
  suite: SuiteName,
  workspace: string,
  app: string,
  version: string,
  sandbox?: SandboxInfo,
): UiContext {
  const sidebar = page.locator('.part.sidebar');
  const ctx: UiContext = {
    page,
    server,
    suite,
    workspace,
    repoRoot: root,
    app,
    version,
    sandbox,
    log: say,
    async screenshot(name, target) {
      fs.mkdirSync(resultsDir, { recursive: true });
      const file = path.join(resultsDir, name);
      if (target) await target.screenshot({ path: file, timeout: 10000 });
      else await page.screenshot({ path: file, timeout: 10000 });
      say(`screenshot: ${path.relative(root, file)}`);
      return file;
    },
    waitFor(what, check, timeoutMs = 60000) {
      return waitFor(what, check, timeoutMs, 100);
    },

    async runCommand(title) {
      const input = page.locator('.quick-input-widget input');
      await ctx.waitFor(
        'the command palette',
        async () => {
          if (!(await input.isVisible())) await page.keyboard.press('F1');
          return (await input.isVisible()) && ((await input.inputValue()).startsWith('>') || undefined);
        },
        20000,
      );
      await input.fill('>');
      await input.pressSequentially(title);
      const exact = page.locator('.quick-input-widget .monaco-list-row', { has: page.locator('.label-name', { hasText: title }) });
      const row = await ctx.waitFor(
        `"${title}" in the command palette`,
        async () => {
          const rows = await exact.all();
          for (const r of rows) {
            const label = ((await r.locator('.label-name').first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
            if (label === title) return r;
          }
          return undefined;
        },
        20000,
      );
      // Enter on the focused entry as a person would; click the exact one if the list put another first.
      if ((await row.getAttribute('class'))?.split(/\s+/).includes('focused')) await page.keyboard.press('Enter');
      else await row.click();
      // The command may open its own quick pick in the same widget at once: the palette is gone when
      // the widget is hidden or no longer holds a ">" command query.
      await ctx.waitFor(
        'the command palette to close',
        async () => !(await input.isVisible()) || !(await input.inputValue()).startsWith('>') || undefined,
        10000,
      );
    },
    async openContainer(title) {
      const icon = page.locator(`.activitybar .action-item a[aria-label*="${title}"]`).first();
      await icon.waitFor({ state: 'visible', timeout: 60000 });
      const sidebarTitle = async () =>
        (await sidebar
          .locator('.composite.title')
          .first()
          .textContent()
          .catch(() => '')) ?? '';
      if (!(await sidebar.isVisible()) || !(await sidebarTitle()).toLowerCase().includes(title.toLowerCase())) await icon.click();
      await ctx.waitFor(
        `the ${title} side bar`,
        async () => (await sidebarTitle()).toLowerCase().includes(title.toLowerCase()) || undefined,
        30000,
      );
    },
    async view(name) {
      const pane = sidebar
        .locator('.pane')
        .filter({ has: page.locator('.pane-header h3.title', { hasText: exactText(name) }) })
        .first();
      await pane.waitFor({ state: 'visible', timeout: 30000 });
      const header = pane.locator('.pane-header').first();
      if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
      await ctx.waitFor(
        `the ${name} view expanded`,
        async () => (await header.getAttribute('aria-expanded')) !== 'false' || undefined,
        10000,
      );
      return pane;
    },
    async treeRows(viewName) {
      const pane = await ctx.view(viewName);
      // No DOM lib in this tsconfig: the little of the DOM used in the page, typed by hand.
      type El = {
        textContent: string | null;
        className: string;
        getAttribute(name: string): string | null;
        querySelector(selector: string): El | null;
      };
      const rows = await pane.locator('.monaco-list-row').evaluateAll((elements: unknown[]) =>
        (elements as El[]).map((row) => ({
          index: Number(row.getAttribute('data-index') ?? '0'),
          label: row.querySelector('.label-name')?.textContent ?? row.textContent ?? '',
          description: row.querySelector('.label-description')?.textContent ?? '',
          level: Number(row.getAttribute('aria-level') ?? '1'),
          expanded: row.getAttribute('aria-expanded'),
          icon: /(?:^|\s)codicon-([\w-]+)/.exec(row.querySelector('.custom-view-tree-node-item-icon')?.className ?? '')?.[1],
        })),
      );
      // The list reuses row elements: DOM order is not screen order, data-index is.
      return rows
        .sort((a, b) => a.index - b.index)
        .map((r) => ({
          label: r.label.replace(/\s+/g, ' ').trim(),
          description: r.description.replace(/\s+/g, ' ').trim(),
          level: r.level,
          expanded: r.expanded === null ? undefined : r.expanded === 'true',
          icon: r.icon,
        }));
    },
    async treeRow(viewName, label) {
      const pane = await ctx.view(viewName);
      const row = pane
        .locator('.monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: exactText(label) }) })
        .first();
      await row.waitFor({ state: 'visible', timeout: 30000 });
      return row;
    },
    async statusTexts() {
      const items = await page.locator('.part.statusbar .statusbar-item').allTextContents();
      return items.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
    },
    async contextMenu(target, item) {
      const menu = page.locator('.context-view .monaco-menu');
      const entry = menu.locator('.action-item:not(.disabled) .action-label', { hasText: exactText(item) }).first();
      await ctx.waitFor(
        `"${item}" in the context menu`,
        async () => {
          if (!(await menu.first().isVisible())) await target.click({ button: 'right', timeout: 10000 });
          return (await entry.isVisible()) || undefined;
        },
        20000,
      );
      // VS Code arms a menu item's mouse-up 100 ms after the menu renders (so the right button's
      // release cannot pick an item): a click before that does nothing and the menu stays. The menu
      // closes before the action runs, so clicking again while it is still open cannot run it twice.
      const deadline = Date.now() + 10000;
      for (;;) {
        await entry.click({ timeout: 5000 });
        const closed = await ctx
          .waitFor('the context menu to close', async () => !(await menu.first().isVisible()) || undefined, 1000)
          .catch(() => false);
        if (closed) break;
        if (Date.now() > deadline) throw new Error(`the context menu stayed open after clicking "${item}"`);
      }
    },
    async pickQuickItem(label, timeoutMs = 30000) {
      const widget = page.locator('.quick-input-widget');
      const row = widget
        .locator('.monaco-list-row')
        .filter({ has: page.locator('.label-name', { hasText: exactText(label) }) })
        .first();
      await ctx
        .waitFor(`"${label}" in the quick pick`, async () => (await row.isVisible()) || undefined, timeoutMs)
        .catch(async (err: Error) => {
          const shown = (await widget.isVisible())
            ? (await widget.locator('.monaco-list-row .label-name').allTextContents()).map((t) => t.trim())
            : 'no quick pick open';
          throw new Error(`${err.message}; quick pick: ${JSON.stringify(shown)}`);
        });
      await row.click();
      await ctx.waitFor(`the quick pick to take "${label}"`, async () => !(await row.isVisible()) || undefined, 10000);
    },
    async notification(text, timeoutMs = 60000) {
      const messages = page.locator('.notifications-toasts .notification-toast .notification-list-item-message');
      let seen: string[] = [];
      try {
        return await ctx.waitFor(
          `a notification ${text}`,
          async () => {
            seen = (await messages.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
            return seen.find((m) => (typeof text === 'string' ? m.includes(text) : text.test(m)));
          },
          timeoutMs,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; notifications: ${JSON.stringify(seen)}`, { cause: err });
      }
    },
    async dialogButton(button, timeoutMs = 30000) {
      const dialog = page.locator('.monaco-dialog-box');
      const btn = dialog.locator('.monaco-button', { hasText: exactText(button) }).first();
      await ctx.waitFor(`a dialog with the button "${button}"`, async () => (await btn.isVisible()) || undefined, timeoutMs);
      const message = (
        (await dialog
          .locator('.dialog-message-text')
          .first()
          .textContent()
          .catch(() => '')) ?? ''
      ).trim();
      await btn.click();
      await ctx.waitFor('the dialog to close', async () => !(await dialog.first().isVisible()) || undefined, 10000);
      return message;
    },
  };
  return ctx;
}

// ---- the sandbox -------------------------------------------------------------------------

/** Runs the CLI (dist/cli.js); resolves with its stdout, its stderr goes to ours line by line. */
function cli(args: string[], timeoutMs: number, track?: (child: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    track?.(child);
    let out = '';
    let errTail = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      errTail = (errTail + c).slice(-4000);
      for (const line of c.split('\n')) if (line.trim()) say(`  ${line}`);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`phar-rollout ${args.join(' ')} ended with ${code ?? signal}${errTail ? `:\n${errTail}` : ''}`));
    });
  });
}

let sandboxUpChild: ChildProcess | undefined;

async function sandboxUp(dir: string): Promise<SandboxInfo> {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run compile`);
  const out = await cli(['sandbox', 'up', '--dir', dir, '--json'], 180000, (c) => (sandboxUpChild = c));
  sandboxUpChild = undefined;
  return JSON.parse(out) as SandboxInfo;
}

async function sandboxDown(dir: string): Promise<void> {
  const up = sandboxUpChild;
  if (up && up.exitCode === null && up.signalCode === null) {
    // Interrupted while coming up: let `sandbox up` stop first, so `down` sees all it started.
    const ended = new Promise<void>((resolve) => up.once('close', () => resolve()));
    up.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 15000)))]);
    if (timer) clearTimeout(timer);
    if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  }
  if (!fs.existsSync(dir)) return;
  try {
    const out = await cli(['sandbox', 'down', '--dir', dir], 60000);
    if (out.trim()) say(`sandbox down: ${out.trim()}`);
  } catch (err) {
    say(`sandbox down failed: ${(err as Error).message}`);
  }
}

// ---- suites ------------------------------------------------------------------------------

interface Suite {
  name: SuiteName;
  /** Compiled tests of this suite. */
  testsDir: string;
  /** User settings on top of the quiet defaults. */
  settings?: Record<string, unknown>;
}

const suites: Suite[] = [
  { name: 'project', testsDir: __dirname },
  // A short refresh interval so the Rollout view follows the servers within seconds.
  { name: 'sandbox', testsDir: path.join(__dirname, 'sandbox'), settings: { 'pharRollout.refreshIntervalSeconds': 2 } },
];

const totals = { passed: 0, failed: 0 };

/** What a signal must stop: the running suite's browser, code-server, sandbox and temp folder. */
let stopCurrent: (() => Promise<void>) | undefined;
/** Set by SIGINT/SIGTERM: no further test starts, and what fails meanwhile is not reported. */
let aborting = false;

/** Every notification of the session (toasts vanish after a while; the notification center keeps them). */
async function notificationHistory(ctx: UiContext): Promise<string[]> {
  const { page } = ctx;
  if (await page.locator('.monaco-dialog-box').isVisible()) return ['(a modal dialog is open)'];
  await page.keyboard.press('Escape'); // whatever quick input or menu is open
  await ctx.runCommand('Notifications: Show Notifications');
  const center = page.locator('.notifications-center');
  await center.waitFor({ state: 'visible', timeout: 5000 });
  const messages = (
    await center
      .locator('.notification-list-item')
      .evaluateAll((items: unknown[]) => (items as Array<{ textContent: string | null }>).map((i) => i.textContent ?? ''))
  ).map((t) => t.replace(/\s+/g, ' ').trim());
  await page.keyboard.press('Escape');
  return messages;
}

/** The end of the "Phar Rollout" output channel as code-server wrote it under the user data dir. */
function extensionLogTail(userDataDir: string, lines: number): string | undefined {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (/Phar Rollout\.log$/.test(e.name)) found.push(p);
    }
  };
  walk(path.join(userDataDir, 'logs'), 0);
  const newest = found.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (!newest) return undefined;
  return fs.readFileSync(newest, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function readComposer(dir: string): { app: string; version: string } {
  const composer = JSON.parse(fs.readFileSync(path.join(dir, 'composer.json'), 'utf8')) as { name?: string; version?: string };
  const app = String(composer.name ?? path.basename(dir))
    .split('/')
    .pop()!;
  const version = String(composer.version ?? '');
  if (!version) throw new Error(`${dir}/composer.json has no "version"`);
  return { app, version };
}

async function runSuite(suite: Suite, tests: LoadedTest[]): Promise<void> {
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `phar-rollout-ui-${suite.name}-`));
  const sandboxDir = path.join(tmp, 'sandbox');
  let server: CodeServer | undefined;
  let session: BrowserSession | undefined;
  let cleaned: Promise<void> | undefined;
  let passed = 0;
  let failed = 0;
  const cleanup = () => {
    cleaned ??= (async () => {
      if (session && tracing) {
        const file = path.join(resultsDir, `trace-${suite.name}.zip`);
        fs.mkdirSync(resultsDir, { recursive: true });
        await session.context.tracing.stop({ path: file }).then(
          () => say(`trace: ${path.relative(root, file)} (npx playwright show-trace)`),
          () => undefined,
        );
      }
      await session?.close().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      // After the stop, so that the extension host has flushed its log.
      if (failed > 0) {
        const log = extensionLogTail(path.join(tmp, 'data'), 40);
        if (log) say(`the extension's log (last lines):\n${log}`);
      }
      if (suite.name === 'sandbox') await sandboxDown(sandboxDir);
      if (process.env.PHAR_ROLLOUT_KEEP_TMP === '1') say(`kept ${tmp}`);
      else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
    })();
    return cleaned;
  };
  stopCurrent = cleanup;

  try {
    let workspace: string;
    let sandbox: SandboxInfo | undefined;
    if (suite.name === 'sandbox') {
      const t0 = Date.now();
      sandbox = await sandboxUp(sandboxDir);
      workspace = sandbox.project;
      say(
        `sandbox up in ${Date.now() - t0} ms: LB ${sandbox.lbUrl}, ${sandbox.backends.map((b) => `${b.name} (${b.group}) ${b.url}`).join(', ')}`,
      );
    } else {
      workspace = path.join(tmp, 'sample-app');
      copyFixture(fixture, workspace);
    }
    const { app, version } = readComposer(workspace);
    const extensionsDir = path.join(tmp, 'extensions');
    installExtensionCopy(extensionPath, extensionsDir);

    server = await startCodeServer({
      userDataDir: path.join(tmp, 'data'),
      extensionDir: extensionsDir,
      workspace,
      trust: true,
      settings: suite.settings,
    });
    say(`code-server ${server.url} (log ${server.logFile})`);
    session = await launchBrowser();
    if (tracing) await session.context.tracing.start({ screenshots: true, snapshots: true });
    const page = session.page;
    page.on('pageerror', (err) => say(`page error: ${err.message}`));
    await page.goto(workbenchUrl(server, workspace), { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60000 });
    say(`workbench up after ${Date.now() - started} ms`);

    const ctx = makeContext(page, server, suite.name, workspace, app, version, sandbox);
    let failedBefore: string | undefined;
    for (const { file, test } of tests) {
      if (aborting) break;
      const remaining = deadlineMs - (Date.now() - started);
      const t0 = Date.now();
      try {
        if (test.dependsOnPrevious && failedBefore) throw new Error(`not run: it builds on "${failedBefore}", which failed`);
        if (remaining <= 0) throw new Error(`the suite's deadline of ${deadlineMs} ms passed before this test`);
        await withTimeout(test.name, Math.min(test.timeoutMs ?? 180000, remaining), test.run(ctx));
        passed++;
        say(`ok ${test.name} (${Date.now() - t0} ms)`);
      } catch (err) {
        if (aborting) break;
        failed++;
        const notRun = test.dependsOnPrevious && failedBefore !== undefined;
        failedBefore ??= test.name;
        say(
          `FAIL ${test.name} [${suite.name}/${file}] (${Date.now() - t0} ms)\n${notRun ? (err as Error).message : ((err as Error)?.stack ?? err)}`,
        );
        if (!notRun) {
          await ctx.screenshot(`failure-${suite.name}-${slug(test.name)}.png`).catch((e) => say(`no screenshot: ${(e as Error).message}`));
          const notes = await notificationHistory(ctx).catch((e: Error) => [`(could not read the notifications: ${e.message})`]);
          say(`notifications so far: ${JSON.stringify(notes)}`);
        }
      }
    }
  } catch (err) {
    if (aborting) return;
    failed++;
    say(`suite ${suite.name}: setup failed: ${(err as Error)?.stack ?? err}`);
    if (session && !session.page.isClosed()) {
      fs.mkdirSync(resultsDir, { recursive: true });
      await session.page
        .screenshot({ path: path.join(resultsDir, `failure-${suite.name}-setup.png`), timeout: 10000 })
        .catch(() => undefined);
    }
    if (server) {
      try {
        say(`code-server log (last lines):\n${fs.readFileSync(server.logFile, 'utf8').split('\n').slice(-30).join('\n')}`);
      } catch {
        /* no log */
      }
    }
  } finally {
    await cleanup();
    stopCurrent = undefined;
    // After a signal the handler reports and exits.
    if (!aborting) {
      totals.passed += passed;
      totals.failed += failed;
      say(`suite ${suite.name}: ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const only = process.env.PHAR_ROLLOUT_UI_SUITE;
  const plan = suites
    .filter((s) => !only || s.name === only)
    .map((s) => ({ suite: s, tests: loadTests(s.testsDir) }))
    .filter((p) => p.tests.length > 0);
  if (plan.length === 0)
    throw new Error(`no *.ui.js tests selected under ${__dirname} (npm run build-tests; PHAR_ROLLOUT_UI_GREP / PHAR_ROLLOUT_UI_SUITE)`);

  const onSignal = (signal: NodeJS.Signals) => {
    if (aborting) return; // already stopping; a second Ctrl-C must not skip the cleanup
    aborting = true;
    say(`${signal}: stopping`);
    const stop = stopCurrent ?? (async () => undefined);
    void stop()
      .catch(() => undefined)
      .finally(() => {
        process.stdout.write(`${totals.passed} passed, ${totals.failed + 1} failed\n`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const { suite, tests } of plan) {
      if (aborting) break;
      say(`suite ${suite.name}: ${tests.length} test${tests.length === 1 ? '' : 's'}`);
      await runSuite(suite, tests);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  say(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return totals.failed > 0 || totals.passed === 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.stdout.write(`${totals.passed} passed, ${totals.failed} failed\n`);
      process.exit(code);
    },
    (err) => {
      console.error(`[ui] ${(err as Error)?.stack ?? err}`);
      process.stdout.write(`${totals.passed} passed, ${totals.failed + 1} failed\n`);
      process.exit(1);
    },
  );
}
