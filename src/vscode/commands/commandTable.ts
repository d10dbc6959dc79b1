import { Commands } from '../constants';
import type { CommandSpec } from './commandContext';
import { buildPhar } from './build/buildPhar';
import { rebuildPhar } from './build/rebuildPhar';
import { createRolloutJson } from './project/createRolloutJson';
import { openConfig } from './project/openConfig';
import { copyValue } from './view/copyValue';
import { refresh } from './view/refresh';
import { showLog } from './view/showLog';
import { showPanel } from './view/showPanel';
import { deploy } from './backends/deploy';
import { ramp } from './traffic/ramp';
import { promote } from './traffic/promote';
import { rollback } from './traffic/rollback';
import { pause } from './traffic/pause';
import { resume } from './traffic/resume';
import { verifySplit } from './traffic/verifySplit';
import { unlock } from './traffic/unlock';

/** Every command of the extension; registerCommands wraps each with logging and error reporting. */
export const commandTable: CommandSpec[] = [
  { id: Commands.build, needsTrust: true, handler: (ctx) => buildPhar(ctx) },
  { id: Commands.rebuild, needsTrust: true, handler: (ctx) => rebuildPhar(ctx) },
  { id: Commands.refresh, needsTrust: false, handler: (ctx) => refresh(ctx) },
  { id: Commands.showPanel, needsTrust: false, handler: () => showPanel() },
  { id: Commands.showLog, needsTrust: false, handler: (ctx) => showLog(ctx) },
  { id: Commands.createRolloutJson, needsTrust: false, handler: (ctx) => createRolloutJson(ctx) },
  { id: Commands.openConfig, needsTrust: false, handler: (ctx) => openConfig(ctx) },
  { id: Commands.deploy, needsTrust: true, handler: (ctx, node, args) => deploy(ctx, node as never, args as never) },
  { id: Commands.ramp, needsTrust: true, handler: (ctx, node, args) => ramp(ctx, node, args as never) },
  { id: Commands.promote, needsTrust: true, handler: (ctx, node, args) => promote(ctx, node, args as never) },
  { id: Commands.rollback, needsTrust: true, handler: (ctx, node, args) => rollback(ctx, node as never, args as never) },
  { id: Commands.pause, needsTrust: true, handler: (ctx) => pause(ctx) },
  { id: Commands.resume, needsTrust: true, handler: (ctx) => resume(ctx) },
  { id: Commands.verifySplit, needsTrust: true, handler: (ctx, node, args) => verifySplit(ctx, node, args as never) },
  { id: Commands.unlock, needsTrust: true, handler: (ctx, node, args) => unlock(ctx, node, args as never) },
  { id: Commands.copyValue, needsTrust: false, handler: (ctx, node) => copyValue(ctx, node as never) },
];
