import * as vscode from 'vscode';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { renderStarterRolloutJson } from '../../../core/config/starter';
import { readComposerJson } from '../../../core/config/composerJson';
import { ROLLOUT_FILE } from '../../../core/config/rolloutConfig';
import type { CommandContext } from '../commandContext';

/** Writes a commented starter rollout.json derived from composer.json (never overwrites) and opens it. */
export async function createRolloutJson(ctx: CommandContext): Promise<string | undefined> {
  const root = ctx.model.root;
  if (!root) {
    void vscode.window.showWarningMessage('Open a folder with composer.json first.');
    return undefined;
  }
  const file = path.join(root, ROLLOUT_FILE);
  const composer = await readComposerJson(root);
  try {
    // 'wx' fails if the file exists: a user's rollout.json is never overwritten.
    await fs.writeFile(file, renderStarterRolloutJson(composer), { flag: 'wx' });
    ctx.log.info(`Created ${file}`);
    await ensureGitignore(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    ctx.log.info(`${file} exists; opening it`);
  }
  await vscode.window.showTextDocument(vscode.Uri.file(file));
  await ctx.model.reload();
  return file;
}

/** Adds `.rollout/` to .gitignore when missing: artifacts and local state stay out of git. */
async function ensureGitignore(root: string): Promise<void> {
  const file = path.join(root, '.gitignore');
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  if (/^\/?\.rollout\/?$/m.test(text)) return;
  await fs.writeFile(file, `${text}${text && !text.endsWith('\n') ? '\n' : ''}.rollout/\n`);
}
