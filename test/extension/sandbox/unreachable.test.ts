import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { waitFor } from '../../helpers/wait';
import { api, sandbox } from './sandboxWorkspace';

// Runs last in the sandbox suite (files run in name order): it stops a backend.
describe('Unreachable backend (extension host, sandbox)', function () {
  this.timeout(60000);

  it('a stopped backend shows as unreachable within one refresh', async () => {
    const { model, statusTexts, rolloutRows } = await api();
    const victim = sandbox().backends.find((b) => b.group === 'stable' && b.pid);
    assert.ok(victim?.pid, 'the sandbox reports backend pids');
    try {
      process.kill(-victim.pid, 'SIGTERM');
    } catch {
      process.kill(victim.pid, 'SIGTERM');
    }
    await waitFor(
      'the port to close',
      async () => {
        try {
          await fetch(victim.url, { signal: AbortSignal.timeout(1000) });
          return false;
        } catch {
          return true;
        }
      },
      10000,
    );
    await vscode.commands.executeCommand('pharRollout.refresh');
    const b = model.live.backends.find((x) => x.name === victim.name);
    assert.equal(b?.healthy, false, 'one refresh is enough');
    assert.match(b?.error ?? '', /refused|connect/i);
    assert.ok(statusTexts().some((t) => t.startsWith('$(versions)')));
    // The group row counts it before the versions (the rows are narrow).
    const stableRow = rolloutRows().find((r) => r.label === 'Stable');
    assert.match(stableRow?.description ?? '', /^2 backends · 1 down · /, JSON.stringify(stableRow));
  });
});
