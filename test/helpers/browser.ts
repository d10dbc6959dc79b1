/**
 * Debian's chromium driven by playwright-core (no browser download), for the extension-host
 * and UI tests against code-server.
 */
import * as fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--lang=en-US',
];

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Closes the page, the context and the browser (with a deadline). Safe to call more than once. */
  close(): Promise<void>;
}

export interface LaunchOptions {
  viewport?: { width: number; height: number };
  /** Default: $PHAR_ROLLOUT_CHROMIUM or /usr/bin/chromium. */
  executablePath?: string;
  /** Default true; set PHAR_ROLLOUT_HEADED=1 to watch. */
  headless?: boolean;
}

export function chromiumPath(): string {
  const exe = process.env.PHAR_ROLLOUT_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) throw new Error(`${exe} is missing: run scripts/installSystemDeps.sh (Debian package chromium)`);
  return exe;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<BrowserSession> {
  const browser = await chromium.launch({
    executablePath: options.executablePath ?? chromiumPath(),
    headless: options.headless ?? process.env.PHAR_ROLLOUT_HEADED !== '1',
    args: CHROMIUM_ARGS,
    timeout: 60000,
    // playwright-core also kills the browser when this process exits or gets SIGINT/SIGTERM/SIGHUP.
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (!closing) {
      closing = (async () => {
        const all = browser.close().catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, 10000)))]);
        if (timer) clearTimeout(timer);
      })();
    }
    return closing;
  };
  try {
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1400, height: 900 },
      locale: 'en-US',
    });
    const page = await context.newPage();
    return { browser, context, page, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs `fn` with a fresh page and always closes the browser afterwards. */
export async function withBrowser<T>(fn: (page: Page, session: BrowserSession) => Promise<T>, options?: LaunchOptions): Promise<T> {
  const session = await launchBrowser(options);
  try {
    return await fn(session.page, session);
  } finally {
    await session.close();
  }
}
