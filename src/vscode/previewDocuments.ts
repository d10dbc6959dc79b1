import * as vscode from 'vscode';
import * as path from 'node:path';
import type { RampPreview } from '../core/rollout/ramp';
import { ContextKeys } from './contributions';
import { reviewHeader, reviewInfo } from './changeText';
import type { SplitChange } from './changeText';
import { formatPercent } from './format';
import type { ProjectModel } from './projectModel';

export const PREVIEW_SCHEME = 'pharrollout-preview';

/** Read-only in-memory documents, so a ramp's nginx change can be shown in VS Code's diff editor. */
export class PreviewDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private counter = 0;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '';
  }

  /** Stores `text` under a fresh URI whose file name is `name` (keeps nginx syntax colouring). */
  add(name: string, text: string): vscode.Uri {
    const key = `/${++this.counter}/${name}`;
    this.texts.set(key, text);
    if (this.texts.size > 40) this.texts.delete(this.texts.keys().next().value!);
    return vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: key });
  }
}

export const previewDocuments = new PreviewDocuments();

/**
 * Opens `text` as a read-only document named `name` (History, Show Details): unlike an untitled document it is
 * never dirty, so closing it asks nothing.
 */
export async function showReadOnly(name: string, text: string): Promise<vscode.TextDocument> {
  const doc = await vscode.workspace.openTextDocument(previewDocuments.add(name, text));
  await vscode.window.showTextDocument(doc, { preview: true });
  return doc;
}

/**
 * How a review ended: Apply, Cancel (button, notification or closed tab), overtaken (the live split
 * moved), or replaced by a newer review the user opened.
 */
export type ReviewOutcome = 'apply' | 'cancel' | 'overtaken' | 'replaced';

/** One diff tab of a review: the live file and the one Apply would write. */
export interface ReviewDiff {
  left: vscode.Uri;
  right: vscode.Uri;
  title: string;
}

interface Pending {
  uris: Set<string>;
  settle(outcome: ReviewOutcome): void;
}

/**
 * The diff is the review: its tabs open with Apply and Cancel in the editor title (package.json
 * `editor/title`, shown while `pharRollout.reviewPending` is set and the tab is one of ours), a
 * notification says what will change (and cancels too), and every tab closes when the review ends:
 * applied, cancelled, the tab closed, overtaken (`watch` fires) or replaced by a newer review.
 */
export class ChangeReviews {
  private pending?: Pending;

  /** Ends the open review, if any (the Apply and Cancel commands). False when none was open. */
  settle(outcome: ReviewOutcome): boolean {
    if (!this.pending) return false;
    this.pending.settle(outcome);
    return true;
  }

  /**
   * Opens `diffs` and waits for the decision. `watch` is called with a function that ends the
   * review as overtaken (for instance when the live split moves); it returns what stops watching.
   */
  async review(diffs: readonly ReviewDiff[], info: string, watch?: (overtaken: () => void) => vscode.Disposable): Promise<ReviewOutcome> {
    this.settle('replaced'); // a newer review replaces an open one
    const uris = new Set(diffs.map((d) => d.right.toString()));
    const ours = (tab: vscode.Tab) => tab.input instanceof vscode.TabInputTextDiff && uris.has(tab.input.modified.toString());
    let settle!: (outcome: ReviewOutcome) => void;
    const decided = new Promise<ReviewOutcome>((resolve) => {
      const subscriptions: vscode.Disposable[] = [];
      let done = false;
      settle = (outcome) => {
        if (done) return;
        done = true;
        if (this.pending?.uris === uris) this.pending = undefined;
        for (const s of subscriptions) s.dispose();
        void vscode.commands.executeCommand('setContext', ContextKeys.reviewPending, this.pending !== undefined);
        const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter(ours);
        void Promise.resolve(vscode.window.tabGroups.close(tabs)).catch(() => undefined);
        resolve(outcome);
      };
      // Closing a review tab is a Cancel.
      subscriptions.push(vscode.window.tabGroups.onDidChangeTabs((e) => e.closed.some(ours) && settle('cancel')));
      if (watch) subscriptions.push(watch(() => settle('overtaken')));
    });
    this.pending = { uris, settle };
    await vscode.commands.executeCommand('setContext', ContextKeys.reviewPending, true);
    for (const d of diffs) await vscode.commands.executeCommand('vscode.diff', d.left, d.right, d.title, { preview: false });
    // A second way to decide, not a modal: it closes by itself when the review ends.
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Review — ${info}. Apply Change or Cancel Change in the editor title.`,
        cancellable: true,
      },
      (_progress, token) => {
        const sub = token.onCancellationRequested(() => settle('cancel'));
        return decided.finally(() => sub.dispose());
      },
    );
    return decided;
  }
}

export const changeReviews = new ChangeReviews();

/**
 * Reviews a split change in the diff editor: one tab per LB (its live file and the new one, under
 * the same header of what changes for whom). Overtaken when the live split of any LB moves away
 * from the one the preview was computed from.
 */
export function reviewSplitChange(model: ProjectModel, preview: RampPreview, action: string): Promise<ReviewOutcome> {
  const change: SplitChange = { action, before: preview.before, after: preview.after, loadBalancers: preview.files.map((f) => f.lb) };
  const backends = model.live.backends;
  const header = reviewHeader(change, backends);
  const diffs = preview.files.map((f) => ({
    left: previewDocuments.add(`${f.lb}-live-${path.basename(f.file)}`, header + f.oldText),
    right: previewDocuments.add(`${f.lb}-new-${path.basename(f.file)}`, header + f.newText),
    title: `${f.lb}: ${formatPercent(f.oldSplit ?? 0)} → ${formatPercent(preview.after)} (${f.host}:${f.file})`,
  }));
  const bp = (s: number | undefined) => (s === undefined ? undefined : Math.round(s * 100));
  const moved = () =>
    preview.files.some((f) => {
      const live = model.live.loadBalancers.find((l) => l.name === f.lb);
      return live?.split !== undefined && !live.error && bp(live.split) !== bp(f.oldSplit);
    });
  return changeReviews.review(diffs, reviewInfo(change, backends), (overtaken) =>
    model.onDidChange(() => {
      if (moved()) overtaken();
    }),
  );
}
