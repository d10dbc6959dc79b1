import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'phar-rollout.phar-rollout';

describe('activation', () => {
  it('opens the copy of the sample app as the only workspace folder', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.strictEqual(folders.length, 1, `workspace folders: ${folders.map((f) => f.uri.toString()).join(', ')}`);
    const expected = process.env.PHAR_ROLLOUT_TEST_WORKSPACE;
    if (expected) assert.strictEqual(folders[0].uri.fsPath, expected);
    assert.ok(fs.existsSync(path.join(folders[0].uri.fsPath, 'composer.json')), 'composer.json in the workspace');
  });

  it(`${EXTENSION_ID} is present and activates`, async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} not found`);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  it('registers pharRollout.build', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('pharRollout.build'), 'pharRollout.build is not among the registered commands');
  });
});
