import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import type { Artifact } from '../../../src/core/phar/artifact';
import type { BackendResult } from '../../../src/core/backends/deployBackends';
import { run } from '../../../src/core/exec/process';
import { waitFor } from '../../helpers/wait';
import { api, sandbox } from './sandboxWorkspace';

describe('Deploy (extension host, sandbox)', function () {
  this.timeout(240000);

  it('shows every backend with the version it serves', async () => {
    const { model, statusTexts } = await api();
    assert.equal(model.root, sandbox().project);
    await vscode.commands.executeCommand('pharRollout.refresh');
    await waitFor(
      'three healthy backends',
      () => model.live.backends.length === 3 && model.live.backends.every((b) => b.healthy && b.served === '1.2.0'),
      30000,
    );
    await waitFor('the live status item', () => statusTexts().find((t) => t.startsWith('$(versions) 1.2.0')), 10000);
  });

  it('a deploy from a group node puts a newer build on the canary; tree and status bar show it', async () => {
    const { model, statusTexts } = await api();
    const project = sandbox().project;
    // A newer version, committed, then built from the palette.
    const composerFile = path.join(project, 'composer.json');
    const composer = JSON.parse(await fs.readFile(composerFile, 'utf8')) as Record<string, unknown>;
    composer.version = '1.3.0';
    await fs.writeFile(composerFile, JSON.stringify(composer, null, 4) + '\n');
    const git = (...args: string[]) => run('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=CI', ...args], { cwd: project });
    await git('commit', '-qam', 'Release 1.3.0');
    const artifact = await vscode.commands.executeCommand<Artifact>('pharRollout.build');
    assert.equal(artifact?.version, '1.3.0');

    // The same arguments a click on the Canary group's inline Deploy action passes: the tree node.
    const node = { item: new vscode.TreeItem('Canary'), target: { kind: 'group', group: 'canary' } };
    const results = await vscode.commands.executeCommand<BackendResult[]>('pharRollout.deploy', node, { artifactId: artifact.id });
    assert.ok(results && results.length === 1 && results.every((r) => r.ok), `deploy results: ${JSON.stringify(results)}`);

    await waitFor(
      'the canary to serve 1.3.0 and stable 1.2.0',
      () => {
        const b = model.live.backends;
        return (
          b.length === 3 &&
          b.filter((x) => x.group === 'canary').every((x) => x.served === '1.3.0' && x.deployed === '1.3.0') &&
          b.filter((x) => x.group === 'stable').every((x) => x.served === '1.2.0')
        );
      },
      30000,
    );
    const text = await waitFor('status bar with both versions', () => statusTexts().find((t) => t.includes('canary 1.3.0')), 10000);
    assert.equal(text, '$(versions) 1.2.0 | canary 1.3.0');
  });
});
