import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { existsSync, promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as vscode from 'vscode';
import type { PharRolloutApi } from '../../../src/extension';
import { waitFor } from '../../helpers/wait';
import { run } from '../../../src/core/exec/process';

async function api(): Promise<PharRolloutApi> {
  const ext = vscode.extensions.getExtension<PharRolloutApi>('phar-rollout.phar-rollout');
  assert.ok(ext);
  return ext.activate();
}

/** Lines the spy programs (php, composer, git, ssh, nginx, box on PATH) wrote: one per start. */
async function spied(): Promise<string[]> {
  const log = process.env.PHAR_ROLLOUT_SPY_LOG;
  assert.ok(log, 'the runner sets PHAR_ROLLOUT_SPY_LOG');
  return (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

describe('Restricted Mode (extension host, untrusted workspace)', function () {
  this.timeout(60000);
  let server: http.Server | undefined;
  let requests = 0;

  before(async () => {
    // Every later spawn of the extension (same process) finds the spies first; then redo what
    // activation did, so it too runs under the spies.
    assert.ok(process.env.PHAR_ROLLOUT_SPY_BIN, 'the runner sets PHAR_ROLLOUT_SPY_BIN');
    process.env.PATH = `${process.env.PHAR_ROLLOUT_SPY_BIN}${path.delimiter}${process.env.PATH ?? ''}`;
    await api();
    await vscode.commands.executeCommand('pharRollout.refresh');
  });

  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('reads and shows the project', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the workspace opened in Restricted Mode');
    const { model, statusTexts } = await api();
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    assert.equal(model.root, root);
    assert.equal(model.composer?.name, 'acme/sample-app');
    assert.equal(model.composer?.version, '1.2.0');
    assert.ok(
      // Never built: the package item says so instead of composer.json's version.
      statusTexts().some((t) => t.includes('sample-app not built')),
      `status: ${statusTexts().join(' | ')}`,
    );
  });

  it('refuses to build: no process, no artifact', async () => {
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const result = await vscode.commands.executeCommand('pharRollout.build');
    assert.equal(result, undefined);
    assert.equal(existsSync(path.join(root, '.rollout')), false, 'nothing was written');
  });

  it('shows rollout.json but sends no probe and starts no process', async () => {
    const { model } = await api();
    server = http.createServer((_req, res) => {
      requests++;
      res.setHeader('X-App-Version', '9.9.9');
      res.end('{"version":"9.9.9"}');
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    await fs.writeFile(
      path.join(root, 'rollout.json'),
      JSON.stringify({
        backends: [
          {
            name: 'web-1',
            group: 'stable',
            upstream: `127.0.0.1:${port}`,
            dir: '.rollout/web-1',
            probe: `http://127.0.0.1:${port}/__version`,
          },
        ],
      }),
    );
    await waitFor('the model to read rollout.json', () => model.config?.backends[0]?.name === 'web-1', 20000);
    await vscode.commands.executeCommand('pharRollout.refresh');
    assert.equal(model.live.backends.length, 0, 'no backend status without trust');
    assert.equal(requests, 0, 'no probe reached the backend');
    assert.deepEqual(await spied(), [], 'no php, composer, git, ssh, nginx or box was started');
  });

  it('the spy would have seen a start (so the empty log means something)', async () => {
    await run('git', ['--version']);
    assert.deepEqual(await spied(), ['git --version']);
  });
});
