import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import type { LoadBalancerConfig } from '../../../src/core/config/rolloutConfig';
import { LocalTransport } from '../../../src/core/exec/localTransport';
import type { RampResult } from '../../../src/core/rollout/ramp';
import type { RecoverResult } from '../../../src/core/rollout/recover';
import type { RollbackResult } from '../../../src/core/rollout/rollback';
import { renderFor } from '../../../src/core/traffic/apply';
import { readLive } from '../../../src/core/traffic/live';
import { waitFor } from '../../helpers/wait';
import { api } from './sandboxWorkspace';

/** What nginx SERVES, from its status endpoint (the core's live read), never the file's header. */
async function served(lb: LoadBalancerConfig): Promise<number | undefined> {
  return (await readLive(lb, new LocalTransport())).live?.split;
}

async function ramp(percent: number): Promise<void> {
  const result = await vscode.commands.executeCommand<RampResult>('pharRollout.ramp', undefined, { percent, confirm: false });
  assert.ok(result?.ok, `ramp result: ${JSON.stringify(result)}`);
}

// After traffic.test.ts (files run in name order), before unreachable.test.ts: leaves the split at 0 %.
describe('Truth (extension host, sandbox): the emergency path and drift', function () {
  this.timeout(240000);

  it('rollout.json broken: the view keeps the live split and says why, a ramp is refused, Roll Back → Traffic works', async () => {
    const { model, statusTexts, rolloutRows } = await api();
    await ramp(25);
    const lb = model.config!.loadBalancers[0];
    const file = model.config!.file;
    const good = await fs.readFile(file, 'utf8');
    try {
      // An autosaved typo: a syntax error. The file watcher reloads, the emergency path reads the LBs.
      await fs.writeFile(file, good.replace('{', '{ oops'));
      await waitFor('the model to see the error', () => !model.config && model.errors.length > 0, 20000);
      await vscode.commands.executeCommand('pharRollout.refresh');
      const rows = await waitFor(
        'the "has errors" row and the live split',
        () => {
          const r = rolloutRows();
          return r.some((x) => x.label === 'rollout.json has errors — showing the last applied configuration') &&
            r.some((x) => x.label === lb.name && x.description.startsWith('canary 25 %'))
            ? r
            : undefined;
        },
        20000,
      );
      assert.ok(
        rows.some((x) => x.label === 'Stable'),
        `backends still shown: ${JSON.stringify(rows)}`,
      );
      assert.match(model.live.appliedSource ?? '', /\.applied\.json \(applied /);
      const bar = await waitFor('the status bar to say so', () => statusTexts().find((t) => t.includes('rollout.json has errors')), 10000);
      assert.match(bar, / 25% \$\(error\) rollout\.json has errors$/);

      // Starting a ramp is refused before any dialog: nothing changes.
      const refused = await vscode.commands.executeCommand('pharRollout.ramp', undefined, { percent: 50, confirm: false });
      assert.equal(refused, undefined);
      assert.equal(await served(lb), 25);

      const result = await vscode.commands.executeCommand<RollbackResult>('pharRollout.rollback', undefined, {
        speed: 'traffic',
        confirm: false,
      });
      assert.ok(result?.ok, `rollback result: ${JSON.stringify(result)}`);
      assert.equal(await served(lb), 0, 'nginx serves 0 % (its status endpoint)');
      await waitFor('the view at 0 %', () => model.live.loadBalancers.every((l) => l.split === 0), 20000);
      assert.ok(!model.config, 'still from the applied configuration');
    } finally {
      await fs.writeFile(file, good);
      await waitFor('rollout.json read again', () => model.config && !model.applied, 20000);
    }
  });

  it('the file and nginx disagree (written without a reload, as a killed process leaves it): shown, and Recover repairs it', async () => {
    const { model, statusTexts, rolloutRows } = await api();
    await ramp(25);
    const config = model.config!;
    const lb = config.loadBalancers[0];
    // A newer file nginx never loaded: the next reload by anyone would make 50 % live, ungated.
    await fs.writeFile(lb.file, renderFor(config, lb, 50, new Date()));
    await vscode.commands.executeCommand('pharRollout.refresh');
    // A refresh already running (the rollout.json watcher of the last test) may answer first: wait for the drift.
    const row = await waitFor(
      'the drift on the LB row',
      () => rolloutRows().find((x) => x.label === lb.name && x.description.includes(' · file ')),
      20000,
    );
    assert.match(row.description, /^canary 25 % .* · file 50 %, nginx serves 25 %$/);
    assert.ok(rolloutRows().some((x) => x.label === `${lb.name}: file 50 %, nginx serves 25 %` && x.description === 'click to Recover'));
    assert.ok(
      statusTexts().some((t) => t.includes('$(warning) file 50 %, nginx serves 25 %')),
      statusTexts().join(' | '),
    );

    const result = await vscode.commands.executeCommand<RecoverResult>('pharRollout.recover');
    assert.ok(result, 'recover ran');
    assert.deepEqual(
      result.repaired.map((r) => [r.name, r.changed]),
      [[lb.name, true]],
    );
    const live = await readLive(lb, new LocalTransport());
    assert.equal(live.drift, undefined, 'file and nginx agree');
    assert.equal(live.live?.split, 25, 'traffic unchanged');
    assert.equal(live.split, 25);
    await waitFor('the view without drift', () => model.live.loadBalancers.every((l) => !l.drift && l.split === 25), 20000);
    assert.ok(!rolloutRows().some((x) => x.label.startsWith(`${lb.name}: `)));
    assert.ok(model.live.history.some((h) => h.action === 'repaired'));

    // Leave the sandbox at 0 % for the next file.
    await vscode.commands.executeCommand('pharRollout.rollback', undefined, { speed: 'traffic', confirm: false });
    assert.equal(await served(lb), 0);
  });
});
