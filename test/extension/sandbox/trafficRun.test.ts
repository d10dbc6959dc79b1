/**
 * Start Rollout and the timeline in the extension host (issue 9 item 9), on the sandbox with a short
 * plan and mixed load from the sample app's paths. Named to run after traffic.test (files run in
 * name order): that one leaves the rollout at 0 %, rolled back, and this one's windows do not
 * reach its assertions.
 */
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readRolloutConfig } from '../../../src/core/config/rolloutConfig';
import { acquireLock } from '../../../src/core/rollout/lock';
import { LocalTransport } from '../../../src/core/exec/localTransport';
import type { StartRolloutResult } from '../../../src/vscode/commands/traffic/startRollout';
import type { TimelineHandle, TimelineRender } from '../../../src/vscode/timelinePanel';
import { RolloutTreeProvider } from '../../../src/vscode/tree/rolloutTree';
import type { RolloutNode } from '../../../src/vscode/tree/rolloutTree';
import { startLoad } from '../../helpers/loadClient';
import type { LoadRun } from '../../helpers/loadClient';
import { waitFor } from '../../helpers/wait';
import { api, sandbox } from './sandboxWorkspace';

/** The rollout row as the Rollout view shows it: the view's own provider over the extension's model. */
function rolloutRow(tree: RolloutTreeProvider): vscode.TreeItem | undefined {
  return tree.getChildren().find((n: RolloutNode) => n.item.id === 'rollout')?.item;
}

function tooltipOf(item: vscode.TreeItem | undefined): string {
  const t = item?.tooltip;
  return typeof t === 'string' ? t : (t?.value ?? '');
}

describe('Start Rollout and the timeline (extension host, sandbox)', function () {
  this.timeout(240000);
  const file = () => path.join(sandbox().project, 'rollout.json');
  let original: string | undefined;
  let load: LoadRun | undefined;

  before(async () => {
    const { model } = await api();
    original = await fs.readFile(file(), 'utf8');
    const json = JSON.parse(original) as Record<string, unknown>;
    // One step, observed for 4 s in 1 s windows; loose latency limits (a loaded CI box is not a regression).
    json.traffic = { mode: 'weighted', steps: [{ weight: 25, observe: '4s' }] };
    json.analysis = { interval: '1s', minRequests: 5, limits: { maxP95Ms: 5000, maxP95Ratio: 10, p95ToleranceMs: 1000 } };
    await fs.writeFile(file(), JSON.stringify(json, null, 2) + '\n');
    await vscode.commands.executeCommand('pharRollout.refresh');
    await waitFor(
      'the model to read the short plan',
      () => model.config?.traffic.plan?.[0]?.kind === 'weight' && model.config.analysis?.intervalMs === 1000,
      20000,
    );
  });

  after(async () => {
    await load?.stop();
    if (original !== undefined) await fs.writeFile(file(), original);
    await vscode.commands.executeCommand('pharRollout.rollback', undefined, { speed: 'traffic', confirm: false });
  });

  it('is refused before anything runs while the rollout is locked', async () => {
    const { model } = await api();
    const config = await readRolloutConfig(sandbox().project);
    const local = new LocalTransport();
    const held = await acquireLock(config!, () => local, { operation: 'ramp to 50 %', user: 'carol@example.com' });
    try {
      const ramps = () => model.live.history.filter((h) => h.action === 'ramp').length;
      const before = ramps();
      const result = await vscode.commands.executeCommand<StartRolloutResult | undefined>('pharRollout.startRollout', undefined, {
        confirm: false,
      });
      assert.equal(result, undefined);
      await vscode.commands.executeCommand('pharRollout.refresh');
      assert.equal(model.live.history.filter((h) => h.action === 'analysis').length, 0);
      assert.equal(ramps(), before, 'no split change');
    } finally {
      await held.release();
    }
  });

  it('runs the plan: the rollout row shows the step and the last window, every window is a History row, the run completes', async () => {
    const { model } = await api();
    const tree = new RolloutTreeProvider(model);
    load = startLoad({
      url: sandbox().lbUrl,
      concurrency: 2,
      maxDurationMs: 120000,
      requests: [
        { method: 'GET', path: '/' },
        { method: 'GET', path: '/checkout' },
        { method: 'POST', path: '/checkout', body: 'item=1' },
        { method: 'GET', path: '/api/items' },
      ],
    });
    const running = vscode.commands.executeCommand<StartRolloutResult | undefined>('pharRollout.startRollout', undefined, {
      confirm: false,
    });

    // While it runs: the row says the state word first and the step (it fits a narrow side bar); the
    // tooltip carries the last window's figures of both sides; Enter on the row opens the timeline.
    const tooltip = await waitFor(
      'the rollout row with the step and a window in its tooltip',
      () => {
        const d = String(rolloutRow(tree)?.description ?? '');
        const t = tooltipOf(rolloutRow(tree));
        return /^running · step 1\/1$/.test(d) && /Last window/.test(t) ? t : undefined;
      },
      60000,
    );
    assert.equal(rolloutRow(tree)?.command?.command, 'pharRollout.openTimeline');
    // Markdown: the tooltip's dots are escaped.
    assert.match(tooltip, /\| canary \| \d+ \| \d+ \(\d+\\?\.\d %\) \| (\d+ ms|—) \|/);
    assert.match(tooltip, /\| stable \| \d+ \| \d+ \(\d+\\?\.\d %\) \| (\d+ ms|—) \|/);
    // A second start while this one runs is refused (no second runner).
    assert.equal(await vscode.commands.executeCommand('pharRollout.startRollout', undefined, { confirm: false }), undefined);

    const result = await running;
    const stats = await load.stop();
    load = undefined;
    assert.equal(result?.run?.result, 'completed', `run: ${JSON.stringify(result?.run, null, 1)?.slice(0, 3000)}`);
    const windows = result.run.steps.flatMap((s) => s.windows);
    assert.ok(windows.length >= 3, `${windows.length} windows`);
    assert.ok(
      windows.every((w) => w.canary.requests > 0 && w.stable.requests > 0),
      'both sides had traffic in every window',
    );
    assert.ok(stats.total > 0 && stats.failures.length === 0, `load: ${stats.total} requests, ${stats.failures.length} failed`);

    await vscode.commands.executeCommand('pharRollout.refresh');
    const rows = model.live.history.filter((h) => h.action === 'analysis');
    assert.equal(rows.length, windows.length, 'one History row per window');
    assert.equal(model.live.loadBalancers[0]?.split, 25);
  });

  it('opens the timeline: a webview with both charts drawn from the windows', async () => {
    const handle = await vscode.commands.executeCommand<TimelineHandle>('pharRollout.openTimeline');
    assert.ok(handle?.panel, 'the command returns the panel');
    const rendered = await Promise.race([
      handle.rendered,
      new Promise<TimelineRender>((_, reject) => setTimeout(() => reject(new Error('the webview did not render within 30 s')), 30000)),
    ]);
    assert.equal(rendered.charts, 2);
    assert.ok(rendered.width > 0 && rendered.height > 0, `canvas ${rendered.width}×${rendered.height}`);
    assert.ok(rendered.points >= 4, `${rendered.points} points (ramp and windows)`);
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'Phar Rollout: Timeline');
    assert.ok(tab?.input instanceof vscode.TabInputWebview, 'a webview tab');
    handle.panel.dispose();
  });
});
