/**
 * Page objects for the code-server workbench, as a person sees it: the command palette, the
 * activity bar, side-bar views and their rows, context menus, quick picks, dialogs, notifications
 * and the status bar. Selectors live here only; test files speak in titles and labels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { waitFor } from '../helpers/wait';

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

/** A regex for exactly `text` (spaces around it aside). */
export function exactText(text: string): RegExp {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

export class Workbench {
  private readonly sidebar: Locator;

  constructor(
    readonly page: Page,
    /** Where screenshots go (test-results/). */
    private readonly resultsDir: string,
    private readonly say: (line: string) => void,
  ) {
    this.sidebar = page.locator('.part.sidebar');
  }

  /** Saves test-results/<name> (a full-page screenshot, or of `target` when given). */
  async screenshot(name: string, target?: Locator): Promise<string> {
    fs.mkdirSync(this.resultsDir, { recursive: true });
    const file = path.join(this.resultsDir, name);
    if (target) await target.screenshot({ path: file, timeout: 10000 });
    else await this.page.screenshot({ path: file, timeout: 10000 });
    this.say(`screenshot: ${path.relative(path.dirname(this.resultsDir), file)}`);
    return file;
  }

  /** Polls `check` until it returns something truthy; throws `what` with the last state at the deadline. */
  waitFor<T>(what: string, check: () => Promise<T | undefined | false | null>, timeoutMs = 60000): Promise<T> {
    return waitFor(what, check, timeoutMs, 100);
  }

  /** F1, types the command's full title ("Category: Title"), picks exactly that entry, Enter. */
  async runCommand(title: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    await this.waitFor(
      'the command palette',
      async () => {
        if (!(await input.isVisible())) await this.page.keyboard.press('F1');
        return (await input.isVisible()) && ((await input.inputValue()).startsWith('>') || undefined);
      },
      20000,
    );
    await input.fill('>');
    await input.pressSequentially(title);
    const exact = this.page.locator('.quick-input-widget .monaco-list-row', { has: this.page.locator('.label-name', { hasText: title }) });
    const row = await this.waitFor(
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
    if ((await row.getAttribute('class'))?.split(/\s+/).includes('focused')) await this.page.keyboard.press('Enter');
    else await row.click();
    // The command may open its own quick pick in the same widget at once: the palette is gone when
    // the widget is hidden or no longer holds a ">" command query.
    await this.waitFor(
      'the command palette to close',
      async () => !(await input.isVisible()) || !(await input.inputValue()).startsWith('>') || undefined,
      10000,
    );
  }

  /** Clicks the activity-bar icon whose label contains `title` unless its side bar is already open. */
  async openContainer(title: string): Promise<void> {
    const icon = this.page.locator(`.activitybar .action-item a[aria-label*="${title}"]`).first();
    await icon.waitFor({ state: 'visible', timeout: 60000 });
    const sidebarTitle = async () =>
      (await this.sidebar
        .locator('.composite.title')
        .first()
        .textContent()
        .catch(() => '')) ?? '';
    if (!(await this.sidebar.isVisible()) || !(await sidebarTitle()).toLowerCase().includes(title.toLowerCase())) await icon.click();
    await this.waitFor(
      `the ${title} side bar`,
      async () => (await sidebarTitle()).toLowerCase().includes(title.toLowerCase()) || undefined,
      30000,
    );
  }

  /** The side-bar pane of a view by its name ("Rollout"), expanded if it was collapsed. */
  async view(name: string): Promise<Locator> {
    const pane = this.sidebar
      .locator('.pane')
      .filter({ has: this.page.locator('.pane-header h3.title', { hasText: exactText(name) }) })
      .first();
    await pane.waitFor({ state: 'visible', timeout: 30000 });
    const header = pane.locator('.pane-header').first();
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
    await this.waitFor(
      `the ${name} view expanded`,
      async () => (await header.getAttribute('aria-expanded')) !== 'false' || undefined,
      10000,
    );
    return pane;
  }

  /** The rendered rows of a view, in screen order. */
  async treeRows(viewName: string): Promise<TreeRow[]> {
    const pane = await this.view(viewName);
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
  }

  /** The row of `view` whose label is exactly `label`. */
  async treeRow(viewName: string, label: string): Promise<Locator> {
    const pane = await this.view(viewName);
    const row = pane
      .locator('.monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactText(label) }) })
      .first();
    await row.waitFor({ state: 'visible', timeout: 30000 });
    return row;
  }

  /**
   * Clicks the twistie of the top-level row `label` of `view` until it is expanded (a click on the label
   * runs the row's command: Enter and a click open, the twistie expands). A click that lands while the
   * view re-renders (the Rollout view refreshes every few seconds in the tests) can be lost; a
   * person clicks again, and so does this, for up to 15 s.
   */
  async expandRow(viewName: string, label: string): Promise<void> {
    const state = async () => (await this.treeRows(viewName)).find((r) => r.level === 1 && r.label === label)?.expanded;
    const deadline = Date.now() + 15000;
    while ((await state()) === false) {
      if (Date.now() > deadline) throw new Error(`the row "${label}" of ${viewName} did not expand on click`);
      await (await this.treeRow(viewName, label)).locator('.monaco-tl-twistie').click();
      await this.waitFor(`${label} to expand`, async () => (await state()) !== false || undefined, 3000).catch(() => undefined);
    }
  }

  /** Focuses the row `label` of `view` without running it (a right-click selects, Escape closes the menu), then presses Enter. */
  async pressEnterOn(viewName: string, label: string): Promise<void> {
    const row = await this.treeRow(viewName, label);
    await row.click({ button: 'right' });
    await this.page.keyboard.press('Escape');
    // The list (not the row) holds the keyboard focus; Escape does not always give it back to it.
    await (await this.view(viewName)).locator('.monaco-list').first().focus();
    await this.waitFor(
      `${label} focused in ${viewName}`,
      async () => /\bfocused\b/.test((await row.getAttribute('class')) ?? '') || undefined,
      5000,
    );
    await this.page.keyboard.press('Enter');
  }

  /** Texts of the status bar items (codicons render as no text). */
  async statusTexts(): Promise<string[]> {
    const items = await this.page.locator('.part.statusbar .statusbar-item').allTextContents();
    return items.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
  }

  /** Right-clicks `target` and chooses the context-menu entry titled exactly `item`. */
  async contextMenu(target: Locator, item: string): Promise<void> {
    const menu = this.page.locator('.context-view .monaco-menu');
    const entry = menu.locator('.action-item:not(.disabled) .action-label', { hasText: exactText(item) }).first();
    await this.waitFor(
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
      const closed = await this.waitFor(
        'the context menu to close',
        async () => !(await menu.first().isVisible()) || undefined,
        1000,
      ).catch(() => false);
      if (closed) break;
      if (Date.now() > deadline) throw new Error(`the context menu stayed open after clicking "${item}"`);
    }
  }

  /** Waits for the open quick pick to list an item labelled exactly `label` (icons aside) and clicks it. */
  async pickQuickItem(label: string, timeoutMs = 30000): Promise<void> {
    const widget = this.page.locator('.quick-input-widget');
    const row = widget
      .locator('.monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exactText(label) }) })
      .first();
    await this.waitFor(`"${label}" in the quick pick`, async () => (await row.isVisible()) || undefined, timeoutMs).catch(
      async (err: Error) => {
        const shown = (await widget.isVisible())
          ? (await widget.locator('.monaco-list-row .label-name').allTextContents()).map((t) => t.trim())
          : 'no quick pick open';
        throw new Error(`${err.message}; quick pick: ${JSON.stringify(shown)}`);
      },
    );
    await row.click();
    await this.waitFor(`the quick pick to take "${label}"`, async () => !(await row.isVisible()) || undefined, 10000);
  }

  /** The rows of the open quick pick: label, description and the whole row's text (detail included). */
  async quickPickRows(): Promise<Array<{ label: string; description: string; text: string }>> {
    type El = { textContent: string | null; querySelector(selector: string): El | null };
    const rows = await this.page.locator('.quick-input-widget .monaco-list-row').evaluateAll((elements: unknown[]) =>
      (elements as El[]).map((row) => ({
        label: row.querySelector('.label-name')?.textContent ?? '',
        description: row.querySelector('.label-description')?.textContent ?? '',
        text: row.textContent ?? '',
      })),
    );
    const clean = (t: string) => t.replace(/\s+/g, ' ').trim();
    return rows.map((r) => ({ label: clean(r.label), description: clean(r.description), text: clean(r.text) }));
  }

  /** Waits for a notification toast whose message matches `text`; returns the message. */
  async notification(text: string | RegExp, timeoutMs = 60000): Promise<string> {
    const messages = this.page.locator('.notifications-toasts .notification-toast .notification-list-item-message');
    let seen: string[] = [];
    try {
      return await this.waitFor(
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
  }

  /** Waits for a notification toast matching `text` and clicks its button `button`; returns the message. */
  async notificationButton(text: string | RegExp, button: string, timeoutMs = 60000): Promise<string> {
    const message = await this.notification(text, timeoutMs);
    const toast = this.page
      .locator('.notifications-toasts .notification-toast')
      .filter({ has: this.page.locator('.notification-list-item-message', { hasText: message }) })
      .first();
    const btn = toast.locator('.notification-list-item-buttons-container .monaco-button', { hasText: exactText(button) }).first();
    await this.waitFor(`the button "${button}" on the notification "${message}"`, async () => (await btn.isVisible()) || undefined, 10000);
    await btn.click();
    return message;
  }

  /** The button labels of the notification toast matching `text` (its next steps). */
  async notificationButtons(text: string | RegExp, timeoutMs = 60000): Promise<string[]> {
    const message = await this.notification(text, timeoutMs);
    const toast = this.page
      .locator('.notifications-toasts .notification-toast')
      .filter({ has: this.page.locator('.notification-list-item-message', { hasText: message }) })
      .first();
    return (await toast.locator('.notification-list-item-buttons-container .monaco-button').allTextContents()).map((t) => t.trim());
  }

  /** True while a quick pick, a modal dialog or a diff editor is open (what a refusal must come before). */
  async askingSomething(): Promise<string | undefined> {
    if (await this.page.locator('.quick-input-widget .monaco-list-row').first().isVisible()) return 'a quick pick';
    if (await this.page.locator('.monaco-dialog-box').first().isVisible()) return 'a modal dialog';
    if (await this.page.locator('.editor-group-container .monaco-diff-editor').first().isVisible()) return 'a diff editor';
    return undefined;
  }

  /** Waits for a modal dialog with a button `button` and clicks it; returns the dialog's message. */
  async dialogButton(button: string, timeoutMs = 30000): Promise<string> {
    const dialog = this.page.locator('.monaco-dialog-box');
    const btn = dialog.locator('.monaco-button', { hasText: exactText(button) }).first();
    await this.waitFor(`a dialog with the button "${button}"`, async () => (await btn.isVisible()) || undefined, timeoutMs);
    const message = (
      (await dialog
        .locator('.dialog-message-text')
        .first()
        .textContent()
        .catch(() => '')) ?? ''
    ).trim();
    await btn.click();
    await this.waitFor('the dialog to close', async () => !(await dialog.first().isVisible()) || undefined, 10000);
    return message;
  }

  /** The labels of the open editor tabs (every group), as their titles read. */
  async editorTabs(): Promise<string[]> {
    const tabs = await this.page.locator('.tabs-container .tab').allTextContents();
    return tabs.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
  }

  /** An editor title action whose tooltip contains `title` ("Apply Change"). */
  editorAction(title: string): Locator {
    return this.page.locator(`.editor-group-container .editor-actions .action-label[aria-label*="${title}"]`).first();
  }

  /** Clicks the active editor's title action `title` once it shows. */
  async clickEditorAction(title: string, timeoutMs = 20000): Promise<void> {
    const action = this.editorAction(title);
    await this.waitFor(`the editor title action "${title}"`, async () => (await action.isVisible()) || undefined, timeoutMs).catch(
      async (err: Error) => {
        const shown = await this.page
          .locator('.editor-group-container .editor-actions .action-label')
          .evaluateAll((els: unknown[]) =>
            (els as Array<{ getAttribute(n: string): string | null }>).map((e) => e.getAttribute('aria-label')),
          );
        throw new Error(`${err.message}; editor title actions: ${JSON.stringify(shown)}`);
      },
    );
    await action.click();
  }

  /** The text of the visible diff editor's modified (right) side, line by line as rendered. */
  async diffModifiedText(): Promise<string> {
    return this.renderedLines('.editor-group-container .monaco-diff-editor .editor.modified .view-lines .view-line');
  }

  /** The text of the active editor (not a diff), line by line as rendered. */
  async activeEditorText(): Promise<string> {
    return this.renderedLines('.editor-group-container.active .monaco-editor .view-lines .view-line');
  }

  /** Monaco's rendered lines under `selector`, in screen order (the DOM reuses line elements). */
  private async renderedLines(selector: string): Promise<string> {
    const texts = await this.page.locator(selector).evaluateAll((els: unknown[]) =>
      (els as Array<{ textContent: string | null; style: { top: string } }>)
        .map((e) => ({ top: parseFloat(e.style.top) || 0, text: (e.textContent ?? '').replace(/\u00a0/g, ' ') }))
        .sort((a, b) => a.top - b.top)
        .map((l) => l.text),
    );
    return texts.join('\n');
  }

  /** The open modal dialog's message and detail, or undefined when none is open. */
  async dialogText(): Promise<string | undefined> {
    const dialog = this.page.locator('.monaco-dialog-box').first();
    if (!(await dialog.isVisible())) return undefined;
    const part = async (selector: string) =>
      (
        (await dialog
          .locator(selector)
          .first()
          .textContent()
          .catch(() => '')) ?? ''
      ).trim();
    return `${await part('.dialog-message-text')}\n${await part('.dialog-message-detail')}`;
  }

  /** Every notification of the session (toasts vanish after a while; the notification center keeps them). */
  async notificationHistory(): Promise<string[]> {
    const page = this.page;
    if (await page.locator('.monaco-dialog-box').isVisible()) return ['(a modal dialog is open)'];
    await page.keyboard.press('Escape'); // whatever quick input or menu is open
    await this.runCommand('Notifications: Show Notifications');
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
}
