/**
 * The Phar Rollout panel and a build, as a person does it: open the activity-bar container,
 * run "Phar Rollout: Build Phar" from the command palette, see the built version in the tree
 * and in the status bar.
 */
import type { UiContext, UiTest } from './runner';

const CONTAINER_ICON = '.activitybar .action-item a[aria-label*="Phar Rollout"]';

/** The side bar's tree rows as "label description" (the DOM has them as separate spans). */
async function rowTexts(ctx: UiContext): Promise<string[]> {
  // No DOM lib in this tsconfig: the little of the DOM used in the page, typed by hand.
  type El = { textContent: string | null; querySelectorAll(selector: string): ArrayLike<El> };
  const rows = await ctx.page.locator('.part.sidebar .monaco-list-row').evaluateAll((elements: unknown[]) =>
    (elements as El[]).map((row) => {
      const parts = Array.from(row.querySelectorAll('.label-name, .label-description')).map((e) => e.textContent ?? '');
      return parts.length ? parts.join(' ') : (row.textContent ?? '');
    }),
  );
  return rows.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
}

export const tests: UiTest[] = [
  {
    name: 'the Phar Rollout container opens from the activity bar',
    async run(ctx) {
      const icon = ctx.page.locator(CONTAINER_ICON).first();
      await icon.waitFor({ state: 'visible', timeout: 60000 });
      await icon.click();
      await ctx.waitFor(
        'the Phar Rollout side bar',
        async () => {
          const title = (await ctx.page.locator('.part.sidebar .composite.title').first().textContent()) ?? '';
          return /phar rollout/i.test(title) || undefined;
        },
        30000,
      );
      // The project tree shows the project once the extension has read composer.json.
      await ctx
        .waitFor(
          `a tree row naming ${ctx.app}`,
          async () => {
            const rows = await rowTexts(ctx);
            return rows.some((r) => r.includes(ctx.app) || r.includes(ctx.version)) || undefined;
          },
          60000,
        )
        .catch((err) => ctx.log(`note: ${(err as Error).message}`));
      ctx.log(`rows before the build: ${JSON.stringify(await rowTexts(ctx))}`);
      await ctx.screenshot('01-panel.png');
    },
  },
  {
    name: 'Build Phar from the command palette shows the built version in the tree and the status bar',
    timeoutMs: 240000,
    async run(ctx) {
      // The tree names the composer.json version before any build too: the build shows as a new
      // row that has the version and speaks of a build or an artifact.
      const before = new Set(await rowTexts(ctx));
      await ctx.runCommand('Phar Rollout: Build Phar');
      const row = await ctx.waitFor(
        `a new tree row about the build of ${ctx.version} (rows before: ${JSON.stringify([...before])})`,
        async () => {
          const rows = await rowTexts(ctx);
          return rows.find((r) => r.includes(ctx.version) && /build|built|artifact/i.test(r) && !before.has(r));
        },
        180000,
      );
      ctx.log(`tree row: ${row}`);
      ctx.log(`rows after the build: ${JSON.stringify(await rowTexts(ctx))}`);
      await ctx.screenshot('02-build.png');

      const item = await ctx.waitFor(
        `a status bar item with "${ctx.app}" and "${ctx.version}"`,
        async () => {
          const items = await ctx.statusTexts();
          return items.find((t) => t.includes(ctx.app) && t.includes(ctx.version));
        },
        60000,
      );
      ctx.log(`status bar: ${item}`);
      await ctx.screenshot('03-statusbar.png', ctx.page.locator('.part.statusbar'));
    },
  },
];
