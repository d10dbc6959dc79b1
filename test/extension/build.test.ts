import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import type { PharRolloutApi } from '../../src/extension';
import type { Artifact } from '../../src/core/phar/artifact';
import { waitFor } from '../helpers/wait';

const EXTENSION_ID = 'phar-rollout.phar-rollout';

async function api(): Promise<PharRolloutApi> {
  const ext = vscode.extensions.getExtension<PharRolloutApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  return ext.activate();
}

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'a workspace folder is open');
  return folder.uri.fsPath;
}

describe('Build Phar (extension host)', function () {
  this.timeout(180000);

  it('builds the workspace and the model shows the new artifact', async () => {
    const { model } = await api();
    const root = workspaceRoot();
    const composer = JSON.parse(await fs.readFile(path.join(root, 'composer.json'), 'utf8')) as { version: string };
    const artifact = (await vscode.commands.executeCommand<Artifact | undefined>('pharRollout.build'))!;
    assert.ok(artifact, 'the build command returns the artifact');
    assert.equal(artifact.version, composer.version);
    assert.ok(existsSync(artifact.pharPath), `phar exists at ${artifact.pharPath}`);
    assert.ok(artifact.pharPath.startsWith(path.join(root, '.rollout', 'artifacts')), 'artifact lives in .rollout/artifacts');
    const manifest = JSON.parse(await fs.readFile(path.join(path.dirname(artifact.pharPath), 'manifest.json'), 'utf8')) as Artifact;
    assert.equal(manifest.sha256, artifact.sha256);
    assert.equal(model.artifacts[0]?.id, artifact.id, 'the tree model lists it first');
  });

  it('a second build with unchanged inputs is up to date (same artifact)', async () => {
    const { model } = await api();
    const first = await vscode.commands.executeCommand<Artifact | undefined>('pharRollout.build');
    // Both undefined (two failed builds) must not pass as "the same artifact".
    assert.ok(first, 'the first build returns an artifact');
    const second = await vscode.commands.executeCommand<Artifact | undefined>('pharRollout.build');
    assert.ok(second, 'the second build returns an artifact');
    assert.equal(second.id, first.id);
    assert.equal(second.sha256, first.sha256);
    assert.equal(model.lastBuildUpToDate, true, 'the second build found nothing changed');
  });
});

describe('rollout.json (extension host)', function () {
  this.timeout(60000);

  it('Create rollout.json writes a valid starter and never overwrites', async () => {
    const { model, rolloutRows } = await api();
    const file = path.join(workspaceRoot(), 'rollout.json');
    await fs.rm(file, { force: true });
    try {
      await vscode.commands.executeCommand('pharRollout.createRolloutJson');
      assert.ok(existsSync(file));
      await waitFor('the model to read the starter', () => model.config !== undefined && model.hasRolloutJson);
      assert.equal(model.config?.app, model.composer?.shortName);
      // The starter's example backends are not shown as servers: the panel says to edit them.
      const row = await waitFor('the placeholder row', () => rolloutRows().find((r) => r.label === 'Edit rollout.json'), 10000);
      assert.equal(row.description, '2 placeholder backends');
      await fs.writeFile(file, '{ "backends": [] } // mine');
      await vscode.commands.executeCommand('pharRollout.createRolloutJson');
      assert.equal(await fs.readFile(file, 'utf8'), '{ "backends": [] } // mine', 'an existing file is left alone');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await fs.rm(file, { force: true });
    }
  });

  it('each fault in rollout.json is reported once, named by its backend; IntelliSense still offers the values', async () => {
    await api();
    const file = path.join(workspaceRoot(), 'rollout.json');
    const uri = vscode.Uri.file(file);
    const backend = (name: string, group: string, port: number) =>
      `    { "name": "${name}", "group": "${group}", "upstream": "127.0.0.1:${port}", "dir": "x" },`;
    const theirs = () => vscode.languages.getDiagnostics(uri).filter((x) => x.source !== 'Phar Rollout');
    const ours = () => vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Phar Rollout');
    const all = () => vscode.languages.getDiagnostics(uri).map((x) => `${x.source ?? '?'}: ${x.message}`);
    try {
      // 1. A syntax error (a missing comma): the editor's JSON service reports it; ours stays out while the file is open.
      await fs.writeFile(
        file,
        `{\n  "backends": [\n${backend('web-1', 'stable', 1).slice(0, -1)}\n${backend('web-2', 'stable', 2)}\n  ]\n}\n`,
      );
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc);
      await waitFor('the JSON service reports the missing comma', () => theirs().length > 0, 30000);
      await waitFor('our model has read the broken file too', () => ours().length === 0, 20000);
      const replaceAll = async (text: string) => {
        const edit = new vscode.WorkspaceEdit();
        edit.replace(uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), text);
        assert.ok(await vscode.workspace.applyEdit(edit));
        assert.ok(await doc.save());
      };
      // 2. A wrong value, with a comment and a trailing comma (both fine in rollout.json): reported once, by us.
      await replaceAll(`{\n  // the shop\n  "backends": [\n${backend('web-1', 'blue', 1)}\n  ]\n}\n`);
      await waitFor('the JSON service has read the new text (its syntax error is gone)', () => theirs().length === 0, 30000);
      const groupError = await waitFor('our diagnostic on "group"', () => ours().find((x) => /"group"/.test(x.message)), 20000);
      assert.match(groupError.message, /^backend "web-1": "group" must be one of "stable", "canary"/);
      assert.deepEqual(
        all(),
        [`Phar Rollout: ${groupError.message}`],
        'one diagnostic for one fault, nothing about the comment or the comma',
      );
      // The editor's schema copy still completes the value.
      const at = doc.positionAt(doc.getText().indexOf('"blue"') + 1);
      const completions = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', uri, at);
      const labels = completions.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
      assert.ok(labels.some((l) => l.includes('stable')) && labels.some((l) => l.includes('canary')), `completions: ${labels.join(', ')}`);
      // 3. A duplicate backend: one diagnostic with "Remove the duplicate" as its quick fix, which leaves valid JSON.
      await replaceAll(`{\n  "backends": [\n${backend('web-1', 'stable', 1)}\n${backend('web-1', 'canary', 2).slice(0, -1)}\n  ]\n}\n`);
      const dup = await waitFor('our duplicate diagnostic', () => ours().find((x) => /listed twice/.test(x.message)), 20000);
      assert.equal(dup.range.start.line, 3, 'on the second entry');
      assert.deepEqual(all(), [`Phar Rollout: ${dup.message}`]);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, dup.range);
      const remove = actions.find((a) => a.title === 'Remove the duplicate backend "web-1"');
      assert.ok(remove?.edit, `quick fixes: ${actions.map((a) => a.title).join(', ')}`);
      assert.ok(await vscode.workspace.applyEdit(remove.edit));
      assert.deepEqual(JSON.parse(doc.getText()), {
        backends: [{ name: 'web-1', group: 'stable', upstream: '127.0.0.1:1', dir: 'x' }],
      });
      await doc.save();
      await waitFor('no diagnostic once the fix is saved', () => all().length === 0, 20000);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await fs.rm(file, { force: true });
    }
  });

  it('an error in rollout.json shows in Problems with line and column', async () => {
    await api();
    const file = path.join(workspaceRoot(), 'rollout.json');
    try {
      await fs.writeFile(
        file,
        '{\n  "backends": [\n    { "name": "web-1", "group": "blue", "upstream": "127.0.0.1:1", "dir": "x" }\n  ]\n}\n',
      );
      const uri = vscode.Uri.file(file);
      // Earlier tests leave diagnostics of their own files behind for a moment: wait for this one's.
      const groupError = await waitFor(
        'a diagnostic about "group" on rollout.json',
        () => vscode.languages.getDiagnostics(uri).find((x) => x.source === 'Phar Rollout' && /group/.test(x.message)),
        20000,
      );
      assert.equal(groupError.range.start.line, 2, 'on the third line (0-based 2)');
      assert.equal(groupError.range.start.character, 32, 'at the value "blue"');
      assert.match(groupError.message, /^backend "web-1": "group" must be one of "stable", "canary"/, 'named by the backend');
      // The allowed values are quick fixes; applying one fixes the file.
      const doc = await vscode.workspace.openTextDocument(uri);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, groupError.range);
      const fix = actions.find((a) => a.title === 'Change to "stable"');
      assert.ok(fix?.edit, `quick fixes: ${actions.map((a) => a.title).join(', ')}`);
      assert.ok(await vscode.workspace.applyEdit(fix.edit));
      assert.match(doc.getText(), /"group": "stable"/);
      await doc.save();
      await waitFor(
        'the group diagnostic gone once the fix is saved',
        () => !vscode.languages.getDiagnostics(uri).some((x) => x.source === 'Phar Rollout' && /"group"/.test(x.message)),
        20000,
      );
    } finally {
      await fs.rm(file, { force: true });
    }
    await waitFor(
      'diagnostics cleared after the file is gone',
      () => vscode.languages.getDiagnostics(vscode.Uri.file(file)).filter((x) => x.source === 'Phar Rollout').length === 0,
      20000,
    );
  });
});
