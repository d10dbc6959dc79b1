import * as vscode from 'vscode';
import { SignedTreeProvider } from './signedTreeProvider';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import type { ProjectModel } from '../projectModel';
import type { Artifact } from '../../core/phar/artifact';
import { formatAge, formatBytes, md } from '../format';
import { Commands, ContextValues } from '../contributions';
import type { ContextValue } from '../contributions';
import { safeText } from '../../core/safeText';
import { foreignMarkdown } from '../markdown';
import { lastBuildRow } from '../buildText';
import type { ViewNode } from './viewNode';
import { rowCommand } from './rowCommands';

type Node = ViewNode;

/** The "Project" view: composer.json, box.json, rollout.json, the last build and the artifacts. */
export class ProjectTreeProvider extends SignedTreeProvider<Node> {
  constructor(private readonly model: ProjectModel) {
    super(model.onDidChange);
  }

  protected roots(): Node[] {
    const m = this.model;
    if (!m.root) return [];
    const nodes: Node[] = [projectNode(m)];
    for (const e of m.errors) {
      const item = new vscode.TreeItem(e.message, vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('problemsErrorIcon.foreground'));
      item.description = e.location ? `${path.basename(e.location.file)}:${e.location.line}:${e.location.column}` : undefined;
      item.tooltip = e.hint ? `${e.format()}` : e.message;
      item.contextValue = ContextValues.configError satisfies ContextValue;
      if (e.location) item.command = openAt(e.location.file, e.location.line, e.location.column);
      nodes.push({ item });
    }
    const latest = m.artifacts[0];
    nodes.push(
      latest
        ? {
            item: buildItem(latest, m.lastBuildUpToDate, m.composer?.version, m.trusted && !!m.config),
            target: { kind: 'artifact', artifactId: latest.id },
          }
        : { item: noBuildItem(m.trusted) },
    );
    if (m.artifacts.length > 0) {
      const item = new vscode.TreeItem(`Artifacts`, vscode.TreeItemCollapsibleState.Collapsed);
      item.description = String(m.artifacts.length);
      item.iconPath = new vscode.ThemeIcon('archive');
      item.contextValue = ContextValues.artifacts satisfies ContextValue;
      nodes.push({
        item,
        children: () => m.artifacts.map((a): Node => ({ item: artifactItem(a), target: { kind: 'artifact', artifactId: a.id } })),
      });
    }
    return nodes;
  }
}

function projectNode(m: ProjectModel): Node {
  // Once there is a build the file rows are rarely needed: collapsed, so the Rollout view has the room. A new id,
  // because VS Code keeps a row's expansion by id and would ignore the new default.
  const built = m.artifacts.length > 0;
  const item = new vscode.TreeItem(
    m.appName ?? 'project',
    built ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded,
  );
  item.id = built ? 'project:built' : 'project';
  item.description = [m.composer?.version, m.composer?.name].filter(Boolean).join(' · ') || undefined;
  item.iconPath = new vscode.ThemeIcon('package');
  item.contextValue = ContextValues.project satisfies ContextValue;
  item.tooltip = m.root;
  const root = m.root!;
  return {
    item,
    children: () => {
      const files: Node[] = [];
      const boxFile = ['box.json', 'box.json.dist'].find((f) => existsSync(path.join(root, f)));
      for (const [file, note] of [
        ['composer.json', m.composer?.version ? `version ${m.composer.version}` : 'no version: from git tags'],
        [boxFile, m.compiler === 'box' ? 'compiled by box' : 'compiled by the built-in compiler'],
        [
          'rollout.json',
          m.hasRolloutJson && m.config
            ? `${plural(m.config.backends.length, 'backend')}, ${plural(m.config.loadBalancers.length, 'LB')}`
            : undefined,
        ],
      ] as const) {
        if (!file || !existsSync(path.join(root, file))) continue;
        const hasError = m.errors.some((e) => e.location && path.basename(e.location.file) === file);
        const fi = new vscode.TreeItem(file, vscode.TreeItemCollapsibleState.None);
        fi.description = hasError ? 'has errors' : note;
        fi.iconPath = hasError
          ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
          : new vscode.ThemeIcon('json');
        fi.resourceUri = vscode.Uri.file(path.join(root, file));
        fi.command = { command: 'vscode.open', title: 'Open', arguments: [fi.resourceUri] };
        fi.contextValue = ContextValues.configFile satisfies ContextValue;
        files.push({ item: fi });
      }
      return files;
    },
  };
}

function buildItem(a: Artifact, upToDate: boolean, composerVersion: string | undefined, canDeploy: boolean): vscode.TreeItem {
  const row = lastBuildRow(a, { upToDate, composerVersion });
  const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
  item.id = 'build';
  item.description = row.description;
  item.iconPath = row.outOfDate
    ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
    : new vscode.ThemeIcon('check', new vscode.ThemeColor('testing.iconPassed'));
  item.tooltip = artifactTooltip(a);
  item.contextValue = ContextValues.lastBuild satisfies ContextValue;
  // Enter (or a click) runs the next step: the fix when out of date, else Deploy… with this build.
  if (row.outOfDate) item.command = { command: Commands.build, title: 'Build Phar' };
  else if (canDeploy) item.command = rowCommand('Deploy…', { kind: 'artifact', artifactId: a.id });
  return item;
}

function noBuildItem(trusted: boolean): vscode.TreeItem {
  const item = new vscode.TreeItem('Not built yet', vscode.TreeItemCollapsibleState.None);
  item.id = 'build';
  item.description = trusted ? 'Build Phar to make one' : 'trust the workspace to build';
  item.iconPath = new vscode.ThemeIcon('circle-outline');
  item.contextValue = ContextValues.noBuild satisfies ContextValue;
  if (trusted) item.command = { command: Commands.build, title: 'Build Phar' };
  return item;
}

function artifactItem(a: Artifact): vscode.TreeItem {
  const item = new vscode.TreeItem(safeText(a.version), vscode.TreeItemCollapsibleState.None);
  item.id = `artifact:${a.id}`;
  item.description = `${a.commit.slice(0, 7)} · ${formatAge(a.builtAt)} · ${a.builder}`;
  item.iconPath = new vscode.ThemeIcon('file-zip');
  item.tooltip = artifactTooltip(a);
  item.contextValue = ContextValues.artifact satisfies ContextValue;
  return item;
}

/** A build's details; every value from the manifest is escaped (it comes from project files). */
export function artifactTooltip(a: Artifact): vscode.MarkdownString {
  return foreignMarkdown(
    md`**${a.app} ${a.version}**\n\n| | |\n|---|---|\n| id | ${a.id} |\n| commit | ${a.commit.slice(0, 12)} (${a.commitTime}) |\n` +
      md`| sha256 | ${a.sha256} |\n| size | ${formatBytes(a.size)} |\n| builder | ${a.builder} |\n| built | ${a.builtAt} |\n`,
  );
}

function openAt(file: string, line: number, column: number): vscode.Command {
  const pos = new vscode.Position(line - 1, column - 1);
  return { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(file), { selection: new vscode.Range(pos, pos) }] };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
