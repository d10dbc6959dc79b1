/**
 * A canary release in the browser, as a person does it, against the CLI sandbox (2 stable + 1
 * canary php backends behind nginx, all serving 1.2.0): the Rollout view, a newer build from the
 * palette, a deploy from a backend's context menu, a ramp to 25 % reviewed as the nginx diff (Cancel,
 * then Apply in its editor title), a traffic rollback from the load balancer's context menu (its diff
 * applied), the history, the release rollback's confirmation naming the version.
 *
 * Each step builds on the one before. The runner sets pharRollout.refreshIntervalSeconds to 2 and
 * revealOnStartup to true (as the demo does), and leaves confirmProductionChanges at its default (true).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../../src/core/exec/process';
import { readRolloutConfig } from '../../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../../src/core/exec/localTransport';
import { acquireLock } from '../../../src/core/rollout/lock';
import { ramp as coreRamp } from '../../../src/core/rollout/ramp';
import { rollback as coreRollback } from '../../../src/core/rollout/rollback';
import type { UiContext, UiTest } from '../runner';
import type { TreeRow } from '../workbench';

const ROLLOUT = 'Rollout';
const PROJECT = 'Project';
const NEW_VERSION = '1.3.0';

function show(rows: TreeRow[]): string {
  return JSON.stringify(
    rows.map((r) => `${'  '.repeat(r.level - 1)}${r.icon ? `$(${r.icon}) ` : ''}${r.label}${r.description ? ` — ${r.description}` : ''}`),
  );
}

/** The children rows (one level down) right under the top-level row labelled `label`. */
function childrenOf(rows: TreeRow[], label: string): TreeRow[] {
  const i = rows.findIndex((r) => r.level === 1 && r.label === label);
  if (i < 0) return [];
  const out: TreeRow[] = [];
  for (const r of rows.slice(i + 1)) {
    if (r.level <= 1) break;
    if (r.level === 2) out.push(r);
  }
  return out;
}

/** The status bar item of the live versions ($(versions) …), as its text shows without the icon. */
async function liveStatus(ctx: UiContext): Promise<string | undefined> {
  const item = ctx.page
    .locator('.part.statusbar .statusbar-item')
    .filter({ has: ctx.page.locator('.codicon-versions') })
    .first();
  if (!(await item.isVisible())) return undefined;
  return ((await item.textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

async function config(ctx: UiContext) {
  const c = await readRolloutConfig(ctx.workspace);
  if (!c) throw new Error(`${ctx.workspace} has no rollout.json`);
  return c;
}

function backendsOf(ctx: UiContext, group: 'stable' | 'canary'): string[] {
  const list = ctx.sandbox?.backends.filter((b) => b.group === group).map((b) => b.name) ?? [];
  if (list.length === 0) throw new Error(`the sandbox has no ${group} backend: ${JSON.stringify(ctx.sandbox)}`);
  return list;
}

/** Waits until the Rollout view's row `label` has a description passing `ok`; returns it. */
async function waitForRow(
  ctx: UiContext,
  label: string,
  what: string,
  ok: (description: string) => boolean,
  timeoutMs = 60000,
  wrong?: () => Promise<string | undefined>,
): Promise<string> {
  let last: TreeRow[] = [];
  let gotWrong: string | undefined;
  try {
    return await ctx
      .waitFor(
        `${label} ${what}`,
        async () => {
          gotWrong = await wrong?.();
          if (gotWrong) return gotWrong; // ends the wait; thrown below
          last = await ctx.treeRows(ROLLOUT);
          const row = last.find((r) => r.label === label);
          return row && ok(row.description) ? row.description : undefined;
        },
        timeoutMs,
      )
      .then((d) => {
        if (gotWrong) throw new Error(gotWrong);
        return d;
      });
  } catch (err) {
    throw new Error(`${(err as Error).message}; rows: ${show(last)}`, { cause: err });
  }
}

async function waitForStatus(ctx: UiContext, what: string, ok: (text: string) => boolean, timeoutMs = 30000): Promise<string> {
  let last: string | undefined;
  try {
    return await ctx.waitFor(
      `the status bar to show ${what}`,
      async () => {
        last = await liveStatus(ctx);
        return last !== undefined && ok(last) ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; live item: ${JSON.stringify(last)}, all items: ${JSON.stringify(await ctx.statusTexts())}`,
      { cause: err },
    );
  }
}

/** A healthy backend row reads "<version>", or "<version> · slow (N ms)" when its probe was slow. */
function servesVersion(description: string, version: string): boolean {
  return description === version || description.startsWith(`${version} · slow`);
}

/**
 * Waits for the review of a split change: the diff tab naming `lb` and `percent`, with Apply Change
 * and Cancel Change in its editor title and no modal dialog over it. Returns the tab's title.
 */
async function openReview(ctx: UiContext, lb: string, percent: string): Promise<string> {
  const diff = ctx.page.locator('.editor-group-container .monaco-diff-editor').first();
  await diff.waitFor({ state: 'visible', timeout: 30000 });
  const tab = await ctx.waitFor(
    `a review tab naming ${lb} and ${percent}`,
    async () => (await ctx.editorTabs()).find((t) => t.includes(lb) && t.includes(`→ ${percent}`)),
    20000,
  );
  ctx.log(`review tab: ${tab}`);
  for (const action of ['Apply Change', 'Cancel Change'])
    await ctx.waitFor(
      `"${action}" in the review's editor title`,
      async () => (await ctx.editorAction(action).isVisible()) || undefined,
      20000,
    );
  if (await ctx.dialogText()) throw new Error(`a modal dialog covers the review: ${await ctx.dialogText()}`);
  return tab;
}

/** Waits until the review tab `tab` is gone. */
async function reviewClosed(ctx: UiContext, tab: string): Promise<void> {
  let tabs: string[] = [];
  await ctx
    .waitFor(
      `the review tab "${tab}" to close`,
      async () => {
        tabs = await ctx.editorTabs();
        return !tabs.includes(tab) || undefined;
      },
      20000,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}; tabs: ${JSON.stringify(tabs)}`);
    });
}

export const tests: UiTest[] = [
  {
    name: 'sandbox: the Rollout view lists the LB, two stable and one canary backend serving 1.2.0',
    timeoutMs: 120000,
    async run(ctx) {
      const cfg = await config(ctx);
      const lb = cfg.loadBalancers[0].name;
      const stable = backendsOf(ctx, 'stable');
      const canary = backendsOf(ctx, 'canary');
      // pharRollout.revealOnStartup (set for this suite, as the demo does): the side bar is already showing.
      await ctx.waitFor(
        'the Phar Rollout side bar shown at startup, before anyone opens it',
        async () =>
          /phar rollout/i.test((await ctx.page.locator('.part.sidebar .composite.title').first().textContent()) ?? '') || undefined,
        30000,
      );
      await ctx.openContainer('Phar Rollout');
      let rows: TreeRow[] = [];
      try {
        await ctx.waitFor(
          `the Rollout view with ${lb}, Stable (${stable.join(', ')}) and Canary (${canary.join(', ')}) all serving ${ctx.version}`,
          async () => {
            rows = await ctx.treeRows(ROLLOUT);
            const lbRow = rows.find((r) => r.level === 1 && r.label === lb);
            const s = childrenOf(rows, 'Stable');
            const c = childrenOf(rows, 'Canary');
            const serving = (list: TreeRow[], names: string[]) =>
              list.length === names.length &&
              names.every((n) => list.some((r) => r.label === n && servesVersion(r.description, ctx.version)));
            return Boolean(
              lbRow?.description.startsWith('canary 0 %') &&
              serving(s, stable) &&
              serving(c, canary) &&
              rows.some((r) => r.label === 'History'),
            );
          },
          60000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; rows: ${show(rows)}`, { cause: err });
      }
      ctx.log(`rollout view: ${show(rows)}`);
      const status = await waitForStatus(
        ctx,
        `${ctx.version} | canary ${ctx.version}`,
        (t) => t === `${ctx.version} | canary ${ctx.version}`,
      );
      ctx.log(`status bar: ${status}`);
      await ctx.screenshot('10-rollout-view.png');
    },
  },
  {
    name: 'sandbox: Enter on a row runs its main action: History opens the whole history, a backend and the load balancer show their details',
    timeoutMs: 120000,
    async run(ctx) {
      const lb = (await config(ctx)).loadBalancers[0].name;
      const [backend] = backendsOf(ctx, 'canary');
      await ctx.openContainer('Phar Rollout');
      const opened = async (what: string, row: string, expect: RegExp, shot: string) => {
        await ctx.runCommand('View: Close All Editors');
        await ctx.pressEnterOn(ROLLOUT, row);
        let text = '';
        try {
          await ctx.waitFor(what, async () => expect.test((text = await ctx.activeEditorText())) || undefined, 30000);
        } catch (err) {
          throw new Error(`${(err as Error).message}; editor text: ${JSON.stringify(text.slice(0, 400))}`, { cause: err });
        }
        ctx.log(`Enter on ${row}: ${JSON.stringify(text.split('\n').slice(0, 3))}`);
        await ctx.screenshot(shot);
      };
      await opened(
        'the whole history, as a document',
        'History',
        /^Rollout history \(\d+ events?, newest first\)/,
        '10a-enter-history.png',
      );
      await opened(
        `${backend}'s details`,
        backend,
        new RegExp(`^Backend ${backend} \\(canary\\)[\\s\\S]*serves +${ctx.version.replace(/\./g, '\\.')}`),
        '10b-enter-backend.png',
      );
      await opened(
        `${lb}'s details`,
        lb,
        new RegExp(`^Load balancer ${lb} \\(nginx\\)[\\s\\S]*nginx serves +canary 0 %[\\s\\S]*status endpoint +http://`),
        '10c-enter-load-balancer.png',
      );
      await ctx.runCommand('View: Close All Editors');
    },
  },
  {
    name: `sandbox: Build Phar from the palette makes a ${NEW_VERSION} build`,
    dependsOnPrevious: true,
    timeoutMs: 180000,
    async run(ctx) {
      // The developer bumps the version and commits; the extension builds what is committed.
      const composerFile = path.join(ctx.workspace, 'composer.json');
      const text = await fs.readFile(composerFile, 'utf8');
      const bumped = text.replace(/("version"\s*:\s*)"[^"]*"/, `$1"${NEW_VERSION}"`);
      if (bumped === text) throw new Error(`no "version" to change in ${composerFile}`);
      await fs.writeFile(composerFile, bumped);
      await run(
        'git',
        ['-c', 'user.email=ui-test@example.com', '-c', 'user.name=UI Test', 'commit', '-q', '-am', `Release ${NEW_VERSION}`],
        { cwd: ctx.workspace, timeoutMs: 30000 },
      );

      await ctx.runCommand('Phar Rollout: Build Phar');
      let rows: TreeRow[] = [];
      try {
        await ctx.waitFor(
          `the Project view's build row for ${NEW_VERSION}`,
          async () => {
            rows = await ctx.treeRows(PROJECT);
            return rows.some((r) => r.label === `Last build ${NEW_VERSION}`);
          },
          150000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; project rows: ${show(rows)}`, { cause: err });
      }
      ctx.log(`project view: ${show(rows)}`);
      ctx.log(`notification: ${await ctx.notification(`Built ${ctx.app} ${NEW_VERSION}`)}`);
    },
  },
  {
    name: `sandbox: Deploy… from the canary backend's context menu puts ${NEW_VERSION} on it`,
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      const canary = backendsOf(ctx, 'canary')[0];
      // The build's refresh (its history event, box.json's output file) rebuilds the tree; a right-click
      // during that rebuild reaches the command with no node. Wait until the view shows the build.
      await ctx.waitFor(
        'the Rollout view to show the build in its history',
        async () => (await ctx.treeRows(ROLLOUT)).some((r) => r.label === 'History' && /^\d+ events?$/.test(r.description)) || undefined,
        30000,
      );
      const row = await ctx.treeRow(ROLLOUT, canary);
      await ctx.contextMenu(row, 'Deploy…');
      // The build picker says where each build is live: the sandbox's own build is on every backend, at 0 %.
      const builds = await ctx.waitFor(
        `the build picker with ${ctx.version} and ${NEW_VERSION}`,
        async () => {
          const rows = await ctx.quickPickRows();
          return [ctx.version, NEW_VERSION].every((v) => rows.some((r) => r.label === v)) ? rows : undefined;
        },
        30000,
      );
      ctx.log(`build picker: ${JSON.stringify(builds.map((b) => `${b.label} — ${b.description}`))}`);
      const live = builds.find((b) => b.label === ctx.version)?.description ?? '';
      if (!live.startsWith('stable · canary 0 %'))
        throw new Error(`the picker says ${ctx.version} is live on stable and canary 0 %: ${live}`);
      if (/stable|canary/.test(builds.find((b) => b.label === NEW_VERSION)?.description ?? ''))
        throw new Error(`${NEW_VERSION} is live nowhere yet: ${JSON.stringify(builds)}`);
      await ctx.screenshot('11a-build-picker.png');
      await ctx.pickQuickItem(NEW_VERSION);
      // Run on a backend row, Deploy… targets that backend: a "Deploy to…" pick means the command got no tree node.
      const description = await waitForRow(
        ctx,
        canary,
        `serving ${NEW_VERSION}`,
        (d) => servesVersion(d, NEW_VERSION),
        60000,
        async () => {
          const input = ctx.page.locator('.quick-input-widget input');
          const placeholder = (await input.isVisible()) ? await input.getAttribute('placeholder') : null;
          return placeholder === 'Deploy to…'
            ? `Deploy… from the ${canary} row's context menu asked "Deploy to…": the command received no tree node (the view refreshed between the right-click and the command; see the report on src/vscode/tree/rolloutTree.ts)`
            : undefined;
        },
      );
      ctx.log(`${canary}: ${description}`);
      ctx.log(`notification: ${await ctx.notification(`Deployed ${NEW_VERSION} to ${canary}`)}`);
      const deployNext = await ctx.notificationButtons(`Deployed ${NEW_VERSION} to ${canary}`);
      ctx.log(`next steps: ${JSON.stringify(deployNext)}`);
      if (!deployNext.includes('Ramp Canary…') || !deployNext.includes('Verify Split'))
        throw new Error(`the deploy result offers Ramp Canary… and Verify Split: ${JSON.stringify(deployNext)}`);
      for (const name of backendsOf(ctx, 'stable'))
        await waitForRow(ctx, name, `still serving ${ctx.version}`, (d) => servesVersion(d, ctx.version), 10000);
      const status = await waitForStatus(ctx, `canary ${NEW_VERSION}`, (t) => t === `${ctx.version} | canary ${NEW_VERSION}`);
      ctx.log(`status bar: ${status}`);
      await ctx.screenshot('11-deployed.png');
    },
  },
  {
    name: 'sandbox: Ramp Canary… opens the nginx diff as the review, Apply and Cancel in its title and no modal; Cancel closes it and changes nothing',
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      const cfg = await config(ctx);
      const lb = cfg.loadBalancers[0].name;
      const canary = backendsOf(ctx, 'canary')[0];
      const liveFile = await fs.readFile(cfg.loadBalancers[0].file, 'utf8');
      const events = async () => (await fs.readFile(path.join(ctx.workspace, '.rollout', 'history.jsonl'), 'utf8')).split('\n').length;
      const eventsBefore = await events();
      await ctx.runCommand('Phar Rollout: Ramp Canary…');
      await ctx.pickQuickItem('25 %');
      const tab = await openReview(ctx, lb, '25 %');
      const text = await ctx.diffModifiedText();
      ctx.log(`review text: ${JSON.stringify(text.split('\n').slice(0, 3))}`);
      if (!/After Apply:/.test(text) || !text.includes(`25 % to ${canary} (${NEW_VERSION})`))
        throw new Error(`the review says what changes ("25 % to ${canary} (${NEW_VERSION})"): ${text.slice(0, 400)}`);
      await ctx.screenshot('12-ramp-review.png');
      await ctx.clickEditorAction('Cancel Change');
      await reviewClosed(ctx, tab);
      if ((await fs.readFile(cfg.loadBalancers[0].file, 'utf8')) !== liveFile)
        throw new Error(`Cancel changed ${cfg.loadBalancers[0].file}`);
      if ((await events()) !== eventsBefore) throw new Error('Cancel wrote a history event');
      await waitForRow(ctx, lb, 'still at canary 0 %', (d) => d.startsWith('canary 0 %'), 10000);
      await ctx.screenshot('12a-ramp-cancelled.png');
    },
  },
  {
    name: 'sandbox: a teammate moving the split while the review is open overtakes it: the tab closes, nothing is applied, a new review is offered',
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      const cfg = await config(ctx);
      const lb = cfg.loadBalancers[0].name;
      await ctx.runCommand('Phar Rollout: Ramp Canary…');
      await ctx.pickQuickItem('25 %');
      const tab = await openReview(ctx, lb, '25 %');
      // Carol ramps to 5 % from her terminal while the review is open.
      await coreRamp(cfg, { percent: 5 }, { gate: false, user: 'carol@example.com' });
      await reviewClosed(ctx, tab);
      ctx.log(`notification: ${await ctx.notification('The canary split changed while you reviewed')}`);
      await waitForRow(ctx, lb, "at Carol's 5 %, not 25 %", (d) => d.startsWith('canary 5 %'), 20000);
      await ctx.screenshot('12b-review-overtaken.png');
      // Back to 0 % (Carol again) for the steps that follow; her toasts would hide theirs.
      await coreRollback(cfg, { speed: 'traffic' }, { user: 'carol@example.com' });
      await waitForRow(ctx, lb, 'back at canary 0 %', (d) => d.startsWith('canary 0 %'), 20000);
      await ctx.runCommand('Notifications: Clear All Notifications');
    },
  },
  {
    name: "sandbox: Ramp Canary… to 25 %: Apply in the review's title applies it, closes the tab and moves the LB",
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      const lb = (await config(ctx)).loadBalancers[0].name;
      await ctx.runCommand('Phar Rollout: Ramp Canary…');
      await ctx.pickQuickItem('25 %');
      const tab = await openReview(ctx, lb, '25 %');
      await ctx.clickEditorAction('Apply Change');
      await reviewClosed(ctx, tab);

      const description = await waitForRow(ctx, lb, 'at canary 25 %', (d) => d.startsWith('canary 25 %'), 90000);
      ctx.log(`${lb}: ${description}`);
      // The LB moves before the gate has run; the ramp is done when it says so.
      const done = await ctx.notification(/^Canary at 25 %|^Canary gate failed/);
      ctx.log(`notification: ${done}`);
      if (!done.startsWith('Canary at 25 %')) throw new Error(`the ramp did not hold: ${done}`);
      // The result appears after the progress notification closed, and the review's notification is gone too.
      const toasts = (await ctx.page.locator('.notifications-toasts .notification-list-item-message').allTextContents()).map((t) =>
        t.trim(),
      );
      const lingering = toasts.filter((t) => t.includes('Ramping canary') || t.startsWith('Review —'));
      if (lingering.length) throw new Error(`progress or review notifications stay open beside the result: ${JSON.stringify(lingering)}`);
      if (!/gate passed \(canary [\d.]+ % errors, p95 \d+ ms; stable [\d.]+ %, \d+ ms\)/.test(done))
        throw new Error(`"gate passed" carries both sides' numbers: ${done}`);
      const rampNext = await ctx.notificationButtons(/^Canary at 25 %/);
      ctx.log(`next steps: ${JSON.stringify(rampNext)}`);
      if (!rampNext.some((b) => b.startsWith('Next Step')) || !rampNext.includes('Roll Back…'))
        throw new Error(`the ramp result offers Next Step and Roll Back…: ${JSON.stringify(rampNext)}`);
      const status = await waitForStatus(ctx, '⇄ and 25%', (t) => t.includes('⇄') && t.includes('25%'));
      ctx.log(`status bar: ${status}`);
      if (status !== `${ctx.version} ⇄ ${NEW_VERSION} 25%`) throw new Error(`status bar during the ramp: ${status}`);
      await ctx.screenshot('13-ramped.png');
    },
  },
  {
    name: 'sandbox: a ramp while paused is refused before any picker or dialog, and "Resume Rollout" on the refusal resumes',
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      // The ramp's diff tab may still be open: close editors so a new diff would be seen.
      await ctx.runCommand('View: Close All Editors');
      // Pause from the rollout row's context menu: it confirms, and the status bar shows it.
      await ctx.contextMenu(await ctx.treeRow(ROLLOUT, 'Canary 25 %'), 'Pause Rollout');
      await waitForRow(ctx, 'Canary 25 %', 'paused', (d) => d.includes('paused'), 30000);
      ctx.log(`notification: ${await ctx.notification('Rollout paused at 25 %')}`);
      const pausedStatus = await waitForStatus(ctx, 'paused', (t) => t.includes('paused'));
      ctx.log(`status bar: ${pausedStatus}`);
      await ctx.screenshot('13a-paused.png');
      await ctx.runCommand('Phar Rollout: Ramp Canary…');
      let asked: string | undefined;
      const refusal = await ctx.waitFor(
        'the refusal of a ramp while paused',
        async () => {
          asked ??= await ctx.askingSomething();
          return asked ?? (await ctx.notification('The rollout is paused', 200).catch(() => undefined));
        },
        30000,
      );
      if (asked) throw new Error(`the ramp showed ${asked} before refusing`);
      ctx.log(`refusal: ${refusal}`);
      await ctx.screenshot('13b-ramp-refused-paused.png');
      await ctx.notificationButton('The rollout is paused', 'Resume Rollout');
      const description = await waitForRow(ctx, 'Canary 25 %', 'running again', (d) => d.includes('running'), 30000);
      ctx.log(`rollout row: ${description}`);
    },
  },
  {
    name: "sandbox: Roll Back… Traffic from the LB's context menu returns to 0 %; History shows ramp and rollback",
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      const lb = (await config(ctx)).loadBalancers[0].name;
      const row = await ctx.treeRow(ROLLOUT, lb);
      await ctx.contextMenu(row, 'Roll Back…');
      await ctx.pickQuickItem('Traffic');
      // confirmProductionChanges is true (the default): a traffic rollback is reviewed as its diff.
      const tab = await openReview(ctx, lb, '0 %');
      await ctx.screenshot('14a-rollback-review.png');
      await ctx.clickEditorAction('Apply Change');
      await reviewClosed(ctx, tab);
      const description = await waitForRow(ctx, lb, 'back at canary 0 %', (d) => d.startsWith('canary 0 %'), 60000);
      ctx.log(`${lb}: ${description}`);
      ctx.log(`notification: ${await ctx.notification('Rolled back: canary traffic 0 %')}`);
      await waitForStatus(ctx, `${ctx.version} | canary ${NEW_VERSION}`, (t) => t === `${ctx.version} | canary ${NEW_VERSION}`);

      // Expand History with a click on its row, as a person would.
      await ctx.expandRow(ROLLOUT, 'History');
      let rows: TreeRow[] = [];
      try {
        await ctx.waitFor(
          'History rows for the ramp (→ 25 %) and the rollback (25 % → 0 %)',
          async () => {
            rows = await ctx.treeRows(ROLLOUT);
            const events = childrenOf(rows, 'History');
            // Time first ("13:04 ramp edge"), then result and change in the description.
            const ramp = events.find(
              (e) => /^\d\d:\d\d ramp /.test(e.label) && e.label.endsWith(lb) && e.description === 'ok · 0 % → 25 %',
            );
            const back = events.find(
              (e) => /^\d\d:\d\d rollback /.test(e.label) && e.label.endsWith(lb) && e.description === 'rolled back · 25 % → 0 %',
            );
            return Boolean(ramp && back);
          },
          30000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; rows: ${show(rows)}`, { cause: err });
      }
      const history = await ctx.treeRows(ROLLOUT);
      const jsonLooking = childrenOf(history, 'History').filter((e) => /[{}]/.test(e.label + e.description));
      if (jsonLooking.length) throw new Error(`History rows show raw JSON: ${show(jsonLooking)}`);
      const gate = childrenOf(history, 'History').find((e) => / gate /.test(e.label));
      if (!gate || !/^passed · at 25 %: canary errors [\d.]+ %, p95 \d+ ms/.test(gate.description))
        throw new Error(`the gate row says passed with its numbers: ${gate ? show([gate]) : 'none'}`);
      // Everything here succeeded (the gate passed): no event shows the error icon.
      const failedLooking = childrenOf(rows, 'History').filter((e) => e.icon === 'error');
      if (failedLooking.length) throw new Error(`History marks successful events as failed: ${show(failedLooking)}`);
      ctx.log(`history: ${show(childrenOf(rows, 'History'))}`);
      await ctx.screenshot('14-rolled-back.png');
    },
  },
  {
    name: 'sandbox: at 0 % Roll Back… offers no Traffic; with a live lock it is refused before the picker and "Force Unlock…" on the refusal unlocks',
    dependsOnPrevious: true,
    timeoutMs: 120000,
    async run(ctx) {
      await ctx.runCommand('Phar Rollout: Roll Back…');
      const rows = ctx.page.locator('.quick-input-widget .monaco-list-row');
      const labels = await ctx.waitFor(
        'the Roll Back picker',
        async () => {
          // The palette's own rows linger for a moment: read only once the picker's title is Roll Back.
          const title = ctx.page.locator('.quick-input-widget .quick-input-title');
          if (!(await title.isVisible()) || ((await title.textContent()) ?? '').trim() !== 'Roll Back') return undefined;
          const texts = (await rows.allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
          return texts.length > 0 && texts.every((t) => !t.startsWith('Phar Rollout:')) ? texts : undefined;
        },
        30000,
      );
      ctx.log(`roll back picker at 0 %: ${JSON.stringify(labels)}`);
      if (labels.some((l) => l.startsWith('Traffic'))) throw new Error(`Traffic is offered at 0 %: ${JSON.stringify(labels)}`);
      if (!labels.some((l) => l.startsWith('Release'))) throw new Error(`no Release in the picker: ${JSON.stringify(labels)}`);
      // The release rollback's confirmation names the version each canary backend goes back to; Cancel changes nothing.
      await ctx.pickQuickItem('Release');
      const canary = backendsOf(ctx, 'canary')[0];
      const confirmation = await ctx.waitFor('the release rollback confirmation', () => ctx.dialogText(), 30000);
      ctx.log(`confirmation: ${JSON.stringify(confirmation)}`);
      // The progress of reading the releases has closed by the time the confirmation asks.
      let progress: string[] = [];
      await ctx
        .waitFor(
          'no progress notification beside the confirmation',
          async () => {
            progress = (await ctx.page.locator('.notifications-toasts .notification-list-item-message').allTextContents())
              .map((t) => t.trim())
              .filter((t) => /^Phar Rollout: (Checking the rollout|Reading the previous releases)/.test(t));
            return progress.length === 0 || undefined;
          },
          2000,
        )
        .catch(() => {
          throw new Error(`progress notifications stay open beside the confirmation: ${JSON.stringify(progress)}`);
        });
      await ctx.screenshot('14c-release-rollback-confirm.png');
      await ctx.dialogButton('Cancel');
      if (!confirmation.includes(`${canary}: ${NEW_VERSION} → ${ctx.version}`) || !confirmation.includes(`to ${ctx.version}?`))
        throw new Error(`the confirmation names ${canary}: ${NEW_VERSION} → ${ctx.version}: ${confirmation}`);
      await waitForRow(ctx, canary, `still serving ${NEW_VERSION}`, (d) => servesVersion(d, NEW_VERSION), 10000);

      // A teammate's live lock (this process holds it: alive, so never stale).
      const cfg = await config(ctx);
      const local = new LocalTransport();
      const held = await acquireLock(cfg, () => local, { operation: 'ramp to 50 %', user: 'carol@example.com' });
      try {
        // Earlier steps' toasts (with buttons, so they stay) would otherwise hide the ones this step waits for.
        await ctx.runCommand('Notifications: Clear All Notifications');
        await ctx.runCommand('Phar Rollout: Roll Back…');
        let asked: string | undefined;
        const refusal = await ctx.waitFor(
          'the refusal of a rollback while locked',
          async () => {
            asked ??= await ctx.askingSomething();
            return asked ?? (await ctx.notification('The rollout is locked by', 200).catch(() => undefined));
          },
          30000,
        );
        if (asked) throw new Error(`the rollback showed ${asked} before refusing`);
        ctx.log(`refusal: ${refusal}`);
        await ctx.screenshot('14b-rollback-refused-locked.png');
        await ctx.notificationButton('The rollout is locked by', 'Force Unlock…');
        ctx.log(`dialog: ${await ctx.dialogButton('Force Unlock')}`);
        // What the unlock did, in the view: the history row (the info toast is not reliably on screen in
        // headless code-server, so it is only logged when seen).
        await ctx.waitFor(
          'the unlock in the History',
          async () => (await ctx.treeRows(ROLLOUT)).some((r) => / unlock /.test(` ${r.label} `)) || undefined,
          30000,
        );
        ctx.log(`notification: ${await ctx.notification('Unlocked (was held by', 5000).catch(() => 'not on screen')}`);
      } finally {
        await held.release().catch(() => undefined);
      }
    },
  },
  {
    name: 'sandbox: Roll Back… → Rebuild from git asks the group (canary first) and lists branches with commit, date and subject',
    timeoutMs: 60000,
    async run(ctx) {
      await ctx.runCommand('Phar Rollout: Roll Back…');
      await ctx.pickQuickItem('Rebuild from git');
      const groups = await ctx.waitFor(
        'the group picker',
        async () => {
          const rows = await ctx.quickPickRows();
          return rows.some((r) => r.label === 'stable') ? rows : undefined;
        },
        30000,
      );
      ctx.log(`group picker: ${JSON.stringify(groups.map((g) => `${g.label} — ${g.description}`))}`);
      if (groups[0]?.label !== 'canary' || groups[0].description !== 'default')
        throw new Error(`canary comes first, as the default: ${JSON.stringify(groups)}`);
      await ctx.pickQuickItem('canary');
      const refs = await ctx.waitFor(
        'the ref picker with the release commit',
        async () => {
          const rows = await ctx.quickPickRows();
          return rows.some((r) => r.text.includes(`Release ${NEW_VERSION}`)) ? rows : undefined;
        },
        30000,
      );
      ctx.log(`ref picker: ${JSON.stringify(refs.map((r) => r.text))}`);
      const branch = refs.find((r) => r.text.includes(`Release ${NEW_VERSION}`))!;
      if (!/^[0-9a-f]{7,12} · \d{4}-\d\d-\d\d · /.test(branch.description))
        throw new Error(`a ref row shows its commit, date and age: ${JSON.stringify(branch)}`);
      await ctx.screenshot('15-rebuild-refs.png');
      await ctx.page.keyboard.press('Escape');
    },
  },
  {
    name: 'sandbox: Force Unlock… with no lock says so before any confirmation',
    timeoutMs: 60000,
    async run(ctx) {
      await ctx.runCommand('Phar Rollout: Force Unlock…');
      let asked: string | undefined;
      const said = await ctx.waitFor(
        'the answer that nothing is locked',
        async () => {
          asked ??= await ctx.askingSomething();
          return asked ?? (await ctx.notification('The rollout is not locked', 200).catch(() => undefined));
        },
        30000,
      );
      if (asked) throw new Error(`Force Unlock showed ${asked} although nothing was locked`);
      ctx.log(`notification: ${said}`);
    },
  },
];
