import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { RampResult } from '../../../src/core/rollout/ramp';
import type { RolloutState } from '../../../src/core/rollout/types';
import { waitFor } from '../../helpers/wait';
import { api } from './sandboxWorkspace';

describe('Traffic (extension host, sandbox)', function () {
  this.timeout(240000);

  it('ramps to 25 %: the LB, the rollout node and the status bar show it', async () => {
    const { model, statusTexts } = await api();
    const result = await vscode.commands.executeCommand<RampResult>('pharRollout.ramp', undefined, { percent: 25, confirm: false });
    assert.ok(result?.ok, `ramp result: ${JSON.stringify(result)}`);
    assert.equal(result.after, 25);
    await vscode.commands.executeCommand('pharRollout.refresh');
    await waitFor(
      'every LB at 25 %',
      () => model.live.loadBalancers.length > 0 && model.live.loadBalancers.every((l) => l.split === 25),
      20000,
    );
    assert.equal(model.live.rollout?.split, 25);
    const text = await waitFor('the ramp in the status bar', () => statusTexts().find((t) => t.includes('⇄')), 10000);
    assert.equal(text, '$(versions) 1.2.0 ⇄ 1.3.0 25%');
  });

  it('Pause shows in the status bar and Resume clears it; the split stays', async () => {
    const { model, statusTexts } = await api();
    const paused = await vscode.commands.executeCommand<RolloutState | undefined>('pharRollout.pause');
    assert.equal(paused?.status, 'paused', `pause result: ${JSON.stringify(paused)}`);
    const text = await waitFor('paused in the status bar', () => statusTexts().find((t) => t.includes('paused')), 10000);
    assert.equal(text, '$(versions) 1.2.0 ⇄ 1.3.0 25% $(debug-pause) paused');
    // Paused again: refused before anything runs (no second pause event, state unchanged).
    const again = await vscode.commands.executeCommand<RolloutState | undefined>('pharRollout.pause');
    assert.equal(again, undefined);
    const resumed = await vscode.commands.executeCommand<RolloutState | undefined>('pharRollout.resume');
    assert.equal(resumed?.status, 'running');
    await waitFor('no paused in the status bar', () => statusTexts().some((t) => t === '$(versions) 1.2.0 ⇄ 1.3.0 25%'), 10000);
    assert.equal(model.live.rollout?.split, 25);
    assert.equal(model.live.history.filter((h) => /pause/.test(h.action)).length, 1, 'one pause in the history');
  });

  it('rolls back traffic from the LB context menu: 0 % and history entries', async () => {
    const { model } = await api();
    const node = { item: new vscode.TreeItem('edge'), target: { kind: 'loadBalancer', name: model.config!.loadBalancers[0].name } };
    await vscode.commands.executeCommand('pharRollout.rollback', node, { speed: 'traffic', confirm: false });
    await vscode.commands.executeCommand('pharRollout.refresh');
    await waitFor('every LB at 0 %', () => model.live.loadBalancers.every((l) => l.split === 0), 20000);
    const actions = model.live.history.map((h) => h.action);
    assert.ok(
      actions.some((a) => /ramp/.test(a)),
      `a ramp in history: ${actions.join(', ')}`,
    );
    assert.ok(
      actions.some((a) => /rollback/.test(a)),
      `a rollback in history: ${actions.join(', ')}`,
    );
    // A rollback someone chose ends the rollout as "rolled back", never as a plain "done".
    assert.equal(model.live.rollout?.endedBy, 'rollback');
    // Open History, filtered to ramps: a readable document, no JSON, no other action.
    const doc = await vscode.commands.executeCommand<vscode.TextDocument>('pharRollout.openHistory', undefined, { action: 'ramp' });
    assert.equal(doc.isUntitled, false, 'a read-only document: closing it asks nothing');
    const text = doc.getText();
    assert.match(text, /^Rollout history: ramp only \(\d+ events?, newest first\)/);
    assert.match(text, /ramp \S+ +ok +0 % → 25 %/);
    assert.equal(/\{|deploy|rollback /.test(text), false, text);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    // At 0 % there is no traffic to roll back: refused before any picker or modal.
    const again = await vscode.commands.executeCommand('pharRollout.rollback', node, { speed: 'traffic' });
    assert.equal(again, undefined);
  });
});
