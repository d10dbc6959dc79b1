import type * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import type { ProjectModel } from '../projectModel';
import type { Settings } from '../settings';
import type { CommandId } from '../contributions';

/** What every command handler gets: the model, the log and a progress runner. */
export interface CommandContext {
  model: ProjectModel;
  log: Logger;
  channel: vscode.LogOutputChannel;
  settings: () => Settings;
  extension: vscode.ExtensionContext;
  /** Runs long work in a cancellable notification; the signal aborts on Cancel. */
  withProgress<T>(
    title: string,
    work: (signal: AbortSignal, report: (message: string, increment?: number) => void) => Promise<T>,
  ): Promise<T>;
  /** Absolute path of the shipped PHP compiler. */
  compilerScript: string;
}

export interface CommandSpec {
  id: CommandId;
  /** Starts a process or touches a server: refused in an untrusted workspace. */
  needsTrust: boolean;
  /** `node` is what a tree menu passes (or undefined), `args` a script's options (or a menu's selection). */
  handler: (ctx: CommandContext, node: unknown, args: unknown) => unknown;
}
