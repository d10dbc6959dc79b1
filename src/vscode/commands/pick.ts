import * as vscode from 'vscode';
import type { RolloutConfig, BackendConfig, Group } from '../../core/config/rolloutConfig';
import type { Artifact } from '../../core/phar/artifact';
import * as path from 'node:path';
import { CancelledError, InputError, InputErrors, describeError } from '../../core/errors';
import { ROLLOUT_FILE } from '../../core/config/rolloutConfig';
import { appliedProject } from '../../core/rollout/appliedProject';
import { safeText } from '../../core/safeText';
import type { NodeOf } from '../tree/viewNode';
import { formatAge, formatBytes } from '../format';
import type { CommandContext } from './commandContext';
import { readCurrentRelease } from '../../core/backends/releases';
import { whereLive } from '../changeText';
import type { BackendArtifact } from '../changeText';

/** The build (artifact id) every backend runs now; none when there is no rollout.json or the read fails. */
async function liveArtifacts(ctx: CommandContext): Promise<BackendArtifact[]> {
  const config = ctx.model.config;
  if (!config) return [];
  const pool = ctx.model.transports();
  // Only current/release.json (no probe): the picker opens as fast as the slowest backend's file read.
  return Promise.all(
    config.backends.map(async (b) => ({
      name: b.name,
      group: b.group,
      deployedArtifact: await readCurrentRelease(pool.get(b), b.dir).then(
        (r) => r?.id,
        (err: unknown) => void ctx.log.debug(`build picker: ${b.name}'s release: ${(err as Error).message}`),
      ),
    })),
  );
}

/**
 * rollout.json parsed, or a clear error that says what to do. With rollout.json broken the command
 * is refused before any dialog, with "Fix rollout.json" as the button (only a traffic rollback and
 * Recover run from the last applied configuration: see configOrApplied).
 */
export function requireConfig(ctx: CommandContext): RolloutConfig {
  const config = ctx.model.config;
  if (config) return config;
  if (ctx.model.hasRolloutJson && ctx.model.errors.length > 0) {
    refuseBrokenConfig(ctx);
    throw new CancelledError('rollout.json has errors: refused');
  }
  throw new InputError(ctx.model.hasRolloutJson ? 'rollout.json has errors' : 'This project has no rollout.json', {
    hint: ctx.model.hasRolloutJson ? 'Fix the problems listed in the Problems panel.' : 'Run "Phar Rollout: Create rollout.json" first.',
  });
}

/** "rollout.json has errors …" with the button that opens it at the first error. */
function refuseBrokenConfig(ctx: CommandContext): void {
  const first = ctx.model.errors.find((e) => e.location) ?? ctx.model.errors[0];
  const where = first?.location ? ` (line ${first.location.line}: ${safeText(first.message, 200)})` : '';
  void vscode.window
    .showWarningMessage(
      `rollout.json has errors${where}: fix it first. Until then only Roll Back → Traffic and Recover run, from the last applied configuration.`,
      'Fix rollout.json',
    )
    .then(async (picked) => {
      if (!picked || !ctx.model.root) return;
      const doc = await vscode.workspace.openTextDocument(path.join(ctx.model.root, ROLLOUT_FILE));
      const at = first?.location ? new vscode.Position(first.location.line - 1, first.location.column - 1) : undefined;
      await vscode.window.showTextDocument(doc, at ? { selection: new vscode.Range(at, at) } : {});
    });
}

/**
 * rollout.json's configuration, or — when it has errors — the one the live split was last applied
 * with (read from the LBs, through the extension's transports and so its ssh settings): the
 * emergency path of a traffic rollback and Recover. `source` says where the applied one came from.
 * Refuses like requireConfig when neither can be had.
 */
export async function configOrApplied(ctx: CommandContext): Promise<{ config: RolloutConfig; source?: string }> {
  const m = ctx.model;
  if (m.config) return { config: m.config };
  if (m.applied) return { config: m.applied.config, source: m.applied.source };
  if (!m.root || !m.hasRolloutJson || m.errors.length === 0) return { config: requireConfig(ctx) };
  const root = m.root;
  const found = await ctx
    .withProgress('Phar Rollout: Reading the last applied configuration', (signal) =>
      appliedProject(root, new InputErrors([...m.errors]), { log: ctx.log, signal, transports: m.transports() }),
    )
    .catch((err) => {
      if (err instanceof CancelledError) throw err;
      ctx.log.warn(`rollout.json has errors, and ${describeError(err)}`);
      return undefined;
    });
  if (!found) return { config: requireConfig(ctx) };
  return { config: found.config, source: found.source };
}

/** Quick pick of a built artifact: version, where it is live ("canary 25 %", "stable"), commit, age, builder. */
export async function pickArtifact(ctx: CommandContext, title: string): Promise<Artifact | undefined> {
  // Which build each backend runs, read fresh beside the store (by artifact id: two builds can share a version).
  const [, live] = await Promise.all([ctx.model.reload(), liveArtifacts(ctx)]);
  const split = ctx.model.live.rollout?.split;
  const artifacts = ctx.model.artifacts;
  if (artifacts.length === 0) {
    const build = await vscode.window.showWarningMessage('No phar has been built yet.', 'Build Phar');
    return build ? vscode.commands.executeCommand<Artifact | undefined>('pharRollout.build') : undefined;
  }
  const picked = await vscode.window.showQuickPick(
    artifacts.map((a, i) => ({
      label: `$(file-zip) ${a.version}`,
      description: [whereLive(a.id, live, split), a.commit.slice(0, 7), formatAge(a.builtAt), a.builder, i === 0 ? 'latest' : undefined]
        .filter(Boolean)
        .join(' · '),
      detail: `${a.id} · ${formatBytes(a.size)} · sha256 ${a.sha256.slice(0, 16)}…`,
      artifact: a,
    })),
    // The first step of a deploy: a refresh that refocuses the tree must not close it (Escape does).
    { title, placeHolder: 'Which build?', matchOnDescription: true, matchOnDetail: true, ignoreFocusOut: true },
  );
  return picked?.artifact;
}

/** Backends a command targets: from the tree node it was run on, else a quick pick (groups first). */
type BackendTarget = { backends: BackendConfig[]; label: string };

export async function pickBackends(
  config: RolloutConfig,
  node: NodeOf<'backend' | 'group'> | undefined,
  title: string,
): Promise<{ backends: BackendConfig[]; label: string } | undefined> {
  const target = node?.target;
  if (target?.kind === 'backend') {
    const b = config.backends.find((x) => x.name === target.name);
    return b ? { backends: [b], label: b.name } : undefined;
  }
  if (target?.kind === 'group') return groupTarget(config, target.group);
  const groups = (['canary', 'stable'] as const).filter((g) => config.backends.some((b) => b.group === g));
  const picked = await vscode.window.showQuickPick(
    [
      ...groups.map((g) => ({
        label: `$(${g === 'canary' ? 'beaker' : 'server-environment'}) ${g} group`,
        description: config.backends
          .filter((b) => b.group === g)
          .map((b) => b.name)
          .join(', '),
        value: (): BackendTarget | undefined => groupTarget(config, g),
      })),
      { label: 'Backends', kind: vscode.QuickPickItemKind.Separator, value: (): BackendTarget | undefined => undefined },
      ...config.backends.map((b) => ({
        label: `$(server) ${b.name}`,
        description: `${b.group} · ${b.ssh ?? 'this machine'} · ${b.upstream}`,
        value: (): BackendTarget | undefined => ({ backends: [b], label: b.name }),
      })),
    ],
    { title, placeHolder: 'Deploy to…' },
  );
  return picked?.value();
}

function groupTarget(config: RolloutConfig, group: Group): { backends: BackendConfig[]; label: string } {
  return { backends: config.backends.filter((b) => b.group === group), label: `${group} group` };
}

/** A modal confirmation for production changes (setting pharRollout.confirmProductionChanges). */
export async function confirm(ctx: CommandContext, message: string, detail: string, action: string, always = false): Promise<boolean> {
  if (!always && !ctx.settings().confirmProductionChanges) return true;
  return (await vscode.window.showWarningMessage(message, { modal: true, detail }, action)) === action;
}
