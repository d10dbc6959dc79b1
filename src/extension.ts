import * as path from 'node:path';
import * as vscode from 'vscode';
import { Views, TASK_TYPE } from './vscode/contributions';
import { createLogger } from './vscode/logger';
import { ConfigDiagnostics } from './vscode/diagnostics';
import { showPanel } from './vscode/commands/view/showPanel';
import { rowCommands } from './vscode/tree/rowCommands';
import { ProjectModel } from './vscode/projectModel';
import { ProjectTreeProvider } from './vscode/tree/projectTree';
import { RolloutTreeProvider } from './vscode/tree/rolloutTree';
import { driftWarnings } from './vscode/commands/traffic/recover';
import { StatusBar } from './vscode/statusBar';
import { registerCommands, runWithProgress } from './vscode/commands/registerCommands';
import { commandTable } from './vscode/commands/commandTable';
import { BuildTaskProvider } from './vscode/taskProvider';
import { affectsSettings, readSettings } from './vscode/settings';
import type { CommandContext } from './vscode/commands/commandContext';
import { PREVIEW_SCHEME, previewDocuments } from './vscode/previewDocuments';

/** What activate returns: the model, for the extension-host tests. */
export interface PharRolloutApi {
  model: ProjectModel;
  /** Texts of the visible status bar items. */
  statusTexts(): string[];
  /** Labels and descriptions of the Rollout view's top-level rows (the extension-host tests read them). */
  rolloutRows(): Array<{ label: string; description: string }>;
}

/** Composition root: builds the services and wires them to VS Code. No logic lives here. */
export async function activate(context: vscode.ExtensionContext): Promise<PharRolloutApi> {
  const channel = vscode.window.createOutputChannel('Phar Rollout', { log: true });
  const log = createLogger(channel);
  const diagnostics = new ConfigDiagnostics();
  const model = new ProjectModel(log, diagnostics, () => readSettings());
  const ctx: CommandContext = {
    model,
    log,
    channel,
    settings: () => readSettings(),
    extension: context,
    withProgress: runWithProgress,
    compilerScript: context.asAbsolutePath('php/compile.php'),
  };

  const statusBar = new StatusBar(model);
  const rolloutTree = new RolloutTreeProvider(model);
  context.subscriptions.push(
    channel,
    diagnostics,
    vscode.languages.registerCodeActionsProvider({ pattern: '**/{rollout,composer,box}.json' }, diagnostics, {
      providedCodeActionKinds: ConfigDiagnostics.kinds,
    }),
    model,
    vscode.window.createTreeView(Views.project, { treeDataProvider: new ProjectTreeProvider(model), showCollapseAll: false }),
    vscode.window.createTreeView(Views.rollout, { treeDataProvider: rolloutTree, showCollapseAll: true }),
    rowCommands,
    statusBar,
    ...registerCommands(commandTable, ctx),
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previewDocuments),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new BuildTaskProvider(model, context.asAbsolutePath('dist/cli.js'))),
    driftWarnings(model),
  );

  // Project files (and new artifacts) are re-read; the rollout's own state and history only change
  // what the Rollout view shows, so they re-read just that (a CLI in a terminal updates the view too).
  const projectFiles = vscode.workspace.createFileSystemWatcher(
    '**/{composer.json,box.json,box.json.dist,rollout.json,.rollout/artifacts/*/manifest.json}',
  );
  const rolloutFiles = vscode.workspace.createFileSystemWatcher('**/.rollout/{state.json,history.jsonl}');
  const reload = debounce(() => void model.reload().then(() => model.refreshLive()), 200);
  const refreshLive = debounce(() => void model.refreshLive(), 200);
  const filesChanged = (uri: vscode.Uri) => {
    // "Up to date" held for the inputs as they were; a build's own manifest (which may be reported
    // after the next, up-to-date build finished) is not an input.
    if (path.basename(uri.fsPath) !== 'manifest.json') model.lastBuildUpToDate = false;
    reload();
  };
  context.subscriptions.push(
    projectFiles,
    projectFiles.onDidChange(filesChanged),
    projectFiles.onDidCreate(filesChanged),
    projectFiles.onDidDelete(filesChanged),
    rolloutFiles,
    rolloutFiles.onDidChange(refreshLive),
    rolloutFiles.onDidCreate(refreshLive),
    rolloutFiles.onDidDelete(refreshLive),
    vscode.workspace.onDidChangeWorkspaceFolders(reload),
    vscode.workspace.onDidGrantWorkspaceTrust(reload),
  );
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (timer) clearInterval(timer);
    const seconds = readSettings().refreshIntervalSeconds;
    timer = seconds > 0 ? setInterval(() => void model.refreshLive(), seconds * 1000) : undefined;
  };
  schedule();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => affectsSettings(e) && schedule()),
    { dispose: () => timer && clearInterval(timer) },
  );

  await model.reload();
  void model.refreshLive();
  // Opt-in (the demo sets it): the side bar, so a new user sees the project without looking for it.
  if (model.root && readSettings().revealOnStartup) void showPanel();
  log.info(
    `Phar Rollout active in ${model.root ?? '(no PHP project)'}${vscode.workspace.isTrusted ? '' : ' (restricted mode: no processes)'}`,
  );
  return {
    model,
    statusTexts: () => statusBar.texts(),
    rolloutRows: () =>
      rolloutTree.getChildren().map((n) => ({ label: String(n.item.label ?? ''), description: String(n.item.description ?? '') })),
  };
}

export function deactivate(): void {}

function debounce(fn: () => void, ms: number): () => void {
  let t: NodeJS.Timeout | undefined;
  return () => {
    if (t) clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}
