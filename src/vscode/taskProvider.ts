import * as vscode from 'vscode';
import * as path from 'node:path';
import { TASK_TYPE } from './contributions';
import type { ProjectModel } from './projectModel';

interface BuildTaskDefinition extends vscode.TaskDefinition {
  task: 'build';
  force?: boolean;
}

/**
 * "Phar Rollout: build" in Tasks: Run Task. It runs the bundled CLI in a terminal, so the build
 * output lands in the task terminal and PHP errors reach the Problems panel through $php.
 */
export class BuildTaskProvider implements vscode.TaskProvider {
  constructor(
    private readonly model: ProjectModel,
    private readonly cliPath: string,
  ) {}

  provideTasks(): vscode.Task[] {
    if (!this.model.root || !vscode.workspace.isTrusted) return [];
    return [this.task({ type: TASK_TYPE, task: 'build' }), this.task({ type: TASK_TYPE, task: 'build', force: true })];
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as BuildTaskDefinition;
    return def.task === 'build' ? this.task(def, task.scope) : undefined;
  }

  private task(def: BuildTaskDefinition, scope?: vscode.TaskScope | vscode.WorkspaceFolder): vscode.Task {
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === this.model.root);
    const args = [this.cliPath, 'build', '--project', this.model.root ?? '.', '--verbose', ...(def.force ? ['--force'] : [])];
    const task = new vscode.Task(
      def,
      scope ?? folder ?? vscode.TaskScope.Workspace,
      def.force ? 'build (force)' : 'build',
      TASK_TYPE,
      new vscode.ProcessExecution(process.execPath, args, { env: { ELECTRON_RUN_AS_NODE: '1' } }),
      ['$php'],
    );
    task.group = vscode.TaskGroup.Build;
    task.detail = `Build ${path.basename(this.model.root ?? '')} as a phar`;
    return task;
  }
}
