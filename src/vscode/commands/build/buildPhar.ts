import * as vscode from 'vscode';
import { buildRecorded } from '../../../core/rollout/recordedBuild';
import { formatBytes } from '../../format';
import type { CommandContext } from '../commandContext';
import type { Artifact } from '../../../core/phar/artifact';

/** Build Phar: composer install + compile, streamed to the log, cancellable. Returns the artifact (tests use it). */
export async function buildPhar(ctx: CommandContext, options: { force?: boolean } = {}): Promise<Artifact | undefined> {
  const root = ctx.model.root;
  if (!root) {
    void vscode.window.showWarningMessage('Open a folder with composer.json to build a phar.');
    return undefined;
  }
  const settings = ctx.settings();
  ctx.log.info(`Building ${root}${options.force ? ' (forced)' : ''}`);
  const result = await ctx.withProgress('Phar Rollout: Building phar', (signal, report) =>
    buildRecorded({
      projectDir: root,
      compilerScript: ctx.compilerScript,
      log: ctx.log,
      signal,
      boxPath: settings.boxPath,
      builder: settings.builder,
      force: options.force,
      onProgress: report,
    }),
  );
  ctx.model.lastBuildUpToDate = result.upToDate;
  await ctx.model.reload();
  const a = result.artifact;
  const summary = result.upToDate
    ? `${a.app} ${a.version} is up to date (${a.id})`
    : `Built ${a.app} ${a.version}: ${formatBytes(a.size)}, sha256 ${a.sha256.slice(0, 12)}…, ${a.builder}`;
  ctx.log.info(summary);
  void vscode.window.showInformationMessage(summary);
  return a;
}
