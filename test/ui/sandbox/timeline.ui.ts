/**
 * Start Rollout and the timeline in the browser (issue 9 item 9), after rollout.ui.ts (name order)
 * left the canary on the new build at 0 %: a short plan (one step, 4 s in 1 s windows) under mixed
 * load from the sample app's paths, started from the palette and confirmed in the modal; the
 * progress shows the step and both sides' figures; then the timeline webview draws its charts.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startLoad } from '../../helpers/loadClient';
import type { LoadRun } from '../../helpers/loadClient';
import { readRolloutConfig } from '../../../src/core/config/rolloutConfig';
import type { UiContext, UiTest } from '../runner';

/** The timeline's page: an iframe in an iframe in code-server. */
function frame(ctx: UiContext) {
  return ctx.page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
}

function chartCanvas(ctx: UiContext, chart: string) {
  return frame(ctx).locator(`#${chart} canvas`).first();
}

/** Keys go to the workbench, not the timeline's webview (F1 inside it opens no palette). */
async function focusWorkbench(ctx: UiContext): Promise<void> {
  await ctx.page.keyboard.press('Escape');
  await ctx.page.locator('.part.sidebar .composite.title').first().click();
}

/** Picks a colour theme by name in Preferences: Color Theme (the labels differ a little between versions). */
async function colorTheme(ctx: UiContext, name: string): Promise<void> {
  await ctx.runCommand('Preferences: Color Theme');
  const input = ctx.page.locator('.quick-input-widget input');
  await input.fill(name);
  const focused = ctx.page.locator('.quick-input-widget .monaco-list-row.focused .label-name').first();
  await ctx.waitFor(
    `"${name}" first in the theme picker`,
    async () => ((await focused.textContent()) ?? '').includes(name) || undefined,
    10000,
  );
  await ctx.page.keyboard.press('Enter');
}

/** Starts the rollout from the palette and clicks Cancel on its progress once step 1/1 (25 %) shows. */
async function startThenCancel(ctx: UiContext): Promise<void> {
  await focusWorkbench(ctx);
  await ctx.runCommand('Phar Rollout: Refresh');
  await ctx.runCommand('Notifications: Clear All Notifications');
  await ctx.runCommand('Phar Rollout: Start Rollout');
  await ctx.dialogButton('Start Rollout');
  await ctx.notificationButton(/Step 1\/1 · 25 % · /, 'Cancel', 60000);
}

async function shortPlan(ctx: UiContext, observe = '4s'): Promise<string> {
  const file = path.join(ctx.workspace, 'rollout.json');
  const original = await fs.readFile(file, 'utf8');
  const json = JSON.parse(original) as Record<string, unknown>;
  json.traffic = { mode: 'weighted', steps: [{ weight: 25, observe }] };
  json.analysis = { interval: '1s', minRequests: 5, limits: { maxP95Ms: 5000, maxP95Ratio: 10, p95ToleranceMs: 1000 } };
  await fs.writeFile(file, JSON.stringify(json, null, 2) + '\n');
  return original;
}

export const tests: UiTest[] = [
  {
    name: 'sandbox: Start Rollout from the palette asks, shows the step and both sides per window, completes; Open Timeline draws the charts',
    timeoutMs: 180000,
    dependsOnPrevious: true,
    async run(ctx) {
      const file = path.join(ctx.workspace, 'rollout.json');
      const original = await shortPlan(ctx);
      let load: LoadRun | undefined;
      try {
        await focusWorkbench(ctx);
        await ctx.runCommand('Phar Rollout: Refresh');
        await ctx.runCommand('Notifications: Clear All Notifications');
        load = startLoad({
          url: ctx.sandbox!.lbUrl,
          concurrency: 2,
          maxDurationMs: 120000,
          requests: [
            { method: 'GET', path: '/' },
            { method: 'GET', path: '/checkout' },
            { method: 'POST', path: '/checkout', body: 'item=1' },
            { method: 'GET', path: '/api/items' },
          ],
        });
        await ctx.runCommand('Phar Rollout: Start Rollout');
        const asked = await ctx.dialogButton('Start Rollout');
        ctx.log(`dialog: ${asked}`);
        if (!/Start the rollout from 0 %/.test(asked)) throw new Error(`unexpected confirmation: ${asked}`);

        const progress = await ctx.notification(/Step 1\/1 · 25 % · .*canary \d+ req \d+\.\d % p95 .* · stable \d+ req/, 60000);
        ctx.log(`progress: ${progress}`);
        await ctx.screenshot('20-start-rollout-progress.png');

        const done = await ctx.notification(/Rollout completed at 25 %/, 90000).catch(async (err: Error) => {
          throw new Error(`${err.message}; all notifications: ${JSON.stringify(await ctx.notificationHistory())}`, { cause: err });
        });
        ctx.log(`result: ${done}`);
        const buttons = await ctx.notificationButtons(/Rollout completed/);
        if (!buttons.includes('Open Timeline') || !buttons.includes('Promote Canary'))
          throw new Error(`next steps on the result: ${JSON.stringify(buttons)}`);
        const stats = await load.stop();
        load = undefined;
        ctx.log(`load: ${stats.total} requests, ${stats.failures.length} failed`);
        await ctx.notificationButton(/Rollout completed/, 'Open Timeline');

        // Both charts are canvases with a size, drawn in the webview.
        const sizes: string[] = [];
        for (const chart of ['split-chart', 'latency-chart']) {
          const canvas = chartCanvas(ctx, chart);
          const box = await ctx.waitFor(
            `the ${chart} canvas with a size`,
            async () => {
              const b = await canvas.boundingBox().catch(() => null);
              return b && b.width > 100 && b.height > 50 ? b : undefined;
            },
            30000,
          );
          sizes.push(`${chart} ${Math.round(box.width)}×${Math.round(box.height)}`);
        }
        const summary = frame(ctx).locator('#summary');
        const text = await ctx.waitFor(
          'the timeline summary',
          async () => ((await summary.textContent()) ?? '').match(/^\d+ windows?/)?.input,
          10000,
        );
        ctx.log(`timeline: ${sizes.join(', ')}; ${text}`);
        await ctx.screenshot('21-timeline.png');

        // A theme change re-renders the charts in the new theme's colours.
        const body = frame(ctx).locator('body');
        const before = await body.getAttribute('data-text-color');
        await colorTheme(ctx, 'Dark Modern');
        try {
          const after = await ctx.waitFor(
            'the charts re-drawn in the dark theme',
            async () => {
              const c = await body.getAttribute('data-text-color');
              return c && c !== before ? c : undefined;
            },
            20000,
          );
          ctx.log(`axis text colour: light ${before}, dark ${after}`);
          await ctx.screenshot('21b-timeline-dark.png');
        } finally {
          await colorTheme(ctx, 'Light Modern');
        }
      } finally {
        await load?.stop();
        await fs.writeFile(file, original);
      }
    },
  },
  {
    name: 'sandbox: Cancel on the Start Rollout progress asks Pause Here or Roll Back; Roll Back sets the canary to 0 %',
    timeoutMs: 150000,
    dependsOnPrevious: true,
    async run(ctx) {
      const file = path.join(ctx.workspace, 'rollout.json');
      // A step long enough to be cancelled in (the previous test left the canary at 25 %: it is observed again).
      const original = await shortPlan(ctx, '60s');
      try {
        await startThenCancel(ctx);
        const asked = await ctx.dialogButton('Roll Back');
        ctx.log(`dialog: ${asked}`);
        if (!/Stop the rollout at step 1\/1 \(25 %\)\?/.test(asked)) throw new Error(`unexpected question: ${asked}`);
        const lb = (await readRolloutConfig(ctx.workspace))!.loadBalancers[0].name;
        const description = await ctx.waitFor(
          `${lb} back at canary 0 %`,
          async () => (await ctx.treeRows('Rollout')).find((r) => r.label === lb && r.description.startsWith('canary 0 %'))?.description,
          60000,
        );
        ctx.log(`${lb}: ${description}`);
        ctx.log(
          `notification: ${await ctx.notification('Rolled back: canary traffic 0 % (was 25 %)', 10000).catch(() => 'not on screen')}`,
        );
        await ctx.screenshot('22-start-rollout-cancelled-rolled-back.png');
      } finally {
        await fs.writeFile(file, original);
      }
    },
  },
  {
    name: 'sandbox: Cancel on the Start Rollout progress, then Pause Here: the split stays and the rollout row says paused',
    timeoutMs: 150000,
    dependsOnPrevious: true,
    async run(ctx) {
      const file = path.join(ctx.workspace, 'rollout.json');
      const original = await shortPlan(ctx, '60s');
      try {
        // From 0 % (the previous test rolled back): the step goes live first, then Cancel.
        await startThenCancel(ctx);
        ctx.log(`dialog: ${await ctx.dialogButton('Pause Here')}`);
        const lb = (await readRolloutConfig(ctx.workspace))!.loadBalancers[0].name;
        const rows = await ctx.waitFor(
          'the rollout row paused with the LB still at 25 %',
          async () => {
            const r = await ctx.treeRows('Rollout');
            const rollout = r.find((x) => x.label === 'Canary 25 %' && /paused/.test(x.description));
            const lbRow = r.find((x) => x.label === lb && x.description.startsWith('canary 25 %'));
            return rollout && lbRow ? [rollout, lbRow] : undefined;
          },
          60000,
        );
        ctx.log(`rows: ${rows.map((r) => `${r.label} — ${r.description}`).join(' | ')}`);
        ctx.log(`notification: ${await ctx.notification('Rollout paused at 25 %', 10000).catch(() => 'not on screen')}`);
        await ctx.screenshot('23-start-rollout-cancelled-paused.png');
      } finally {
        await fs.writeFile(file, original);
      }
    },
  },
];
