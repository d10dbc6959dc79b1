import { Commands } from '../constants';
import type { CommandSpec } from './commandContext';
import { buildPhar, rebuildPhar } from './build/buildPhar';
import { createRolloutJson, openConfig } from './project/createRolloutJson';
import { copyValue, refresh, showLog, showPanel } from './view/viewCommands';

/** Every command of the extension; registerCommands wraps each with logging and error reporting. */
export const commandTable: CommandSpec[] = [
  { id: Commands.build, needsTrust: true, handler: (ctx) => buildPhar(ctx) },
  { id: Commands.rebuild, needsTrust: true, handler: (ctx) => rebuildPhar(ctx) },
  { id: Commands.refresh, needsTrust: false, handler: (ctx) => refresh(ctx) },
  { id: Commands.showPanel, needsTrust: false, handler: () => showPanel() },
  { id: Commands.showLog, needsTrust: false, handler: (ctx) => showLog(ctx) },
  { id: Commands.createRolloutJson, needsTrust: false, handler: (ctx) => createRolloutJson(ctx) },
  { id: Commands.openConfig, needsTrust: false, handler: (ctx) => openConfig(ctx) },
  { id: Commands.copyValue, needsTrust: false, handler: (ctx, node) => copyValue(ctx, node as never) },
];
