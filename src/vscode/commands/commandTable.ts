import { Commands, commandMeta } from '../contributions';
import type { CommandId } from '../contributions';
import { isNodeOf } from '../tree/viewNode';
import type { CommandContext, CommandSpec } from './commandContext';
import { commandArgs, is } from './commandArgs';
import { buildPhar } from './build/buildPhar';
import { rebuildPhar } from './build/rebuildPhar';
import { createRolloutJson } from './project/createRolloutJson';
import { openConfig } from './project/openConfig';
import { copyValue } from './view/copyValue';
import { refresh } from './view/refresh';
import { showLog } from './view/showLog';
import { showPanel } from './view/showPanel';
import { openHistory } from './view/openHistory';
import { deploy } from './backends/deploy';
import { ramp } from './traffic/ramp';
import { promote } from './traffic/promote';
import { rollback } from './traffic/rollback';
import { pause } from './traffic/pause';
import { resume } from './traffic/resume';
import { verifySplit } from './traffic/verifySplit';
import { unlock } from './traffic/unlock';
import { recover } from './traffic/recover';
import { startRollout } from './traffic/startRollout';
import { openTimeline } from './view/openTimeline';
import { showDetails } from './view/showDetails';
import { openRow } from './view/openRow';
import { changeReviews } from '../previewDocuments';

/** VS Code calls a command with (node, selection) from a tree menu and with scripted (undefined, args) from code. */
type Handler = (ctx: CommandContext, node: unknown, args: unknown) => unknown;

/**
 * Every command's handler, keyed by its typed id (a missing or extra command is a compile error).
 * Nodes are narrowed with isNodeOf, scripted arguments with commandArgs: nothing is cast.
 */
const handlers: Record<CommandId, Handler> = {
  [Commands.build]: (ctx) => buildPhar(ctx),
  [Commands.rebuild]: (ctx) => rebuildPhar(ctx),
  [Commands.refresh]: (ctx) => refresh(ctx),
  [Commands.showPanel]: () => showPanel(),
  [Commands.showLog]: (ctx) => showLog(ctx),
  [Commands.createRolloutJson]: (ctx) => createRolloutJson(ctx),
  [Commands.openConfig]: (ctx) => openConfig(ctx),
  [Commands.deploy]: (ctx, node, args) =>
    deploy(ctx, isNodeOf(node, 'backend', 'group') ? node : undefined, {
      artifactId: isNodeOf(node, 'artifact') ? node.target.artifactId : undefined,
      ...commandArgs(Commands.deploy, args, { artifactId: is.string, backends: is.strings }),
    }),
  [Commands.ramp]: (ctx, _node, args) =>
    ramp(ctx, commandArgs(Commands.ramp, args, { percent: is.number, next: is.boolean, confirm: is.boolean })),
  [Commands.promote]: (ctx, _node, args) => promote(ctx, commandArgs(Commands.promote, args, { confirm: is.boolean })),
  [Commands.rollback]: (ctx, node, args) =>
    rollback(
      ctx,
      isNodeOf(node, 'group') ? node : undefined,
      commandArgs(Commands.rollback, args, { speed: is.oneOf('traffic', 'release', 'rebuild'), ref: is.string, confirm: is.boolean }),
    ),
  [Commands.pause]: (ctx) => pause(ctx),
  [Commands.resume]: (ctx) => resume(ctx),
  [Commands.verifySplit]: (ctx, _node, args) => verifySplit(ctx, commandArgs(Commands.verifySplit, args, { requests: is.number })),
  [Commands.unlock]: (ctx, _node, args) => unlock(ctx, commandArgs(Commands.unlock, args, { confirm: is.boolean })),
  [Commands.copyValue]: (ctx, node) => copyValue(ctx, isNodeOf(node, 'artifact') ? node : undefined),
  [Commands.openHistory]: (ctx, _node, args) => openHistory(ctx, commandArgs(Commands.openHistory, args, { action: is.string })),
  [Commands.recover]: (ctx) => recover(ctx),
  [Commands.startRollout]: (ctx, _node, args) =>
    startRollout(ctx, commandArgs(Commands.startRollout, args, { confirm: is.boolean, resume: is.boolean })),
  [Commands.openTimeline]: (ctx) => openTimeline(ctx),
  [Commands.showDetails]: (ctx, node) => showDetails(ctx, isNodeOf(node, 'backend', 'loadBalancer') ? node : undefined),
  [Commands.openRow]: (ctx, node) => openRow(ctx, node),
  [Commands.applyChange]: () => changeReviews.settle('apply'),
  [Commands.cancelChange]: () => changeReviews.settle('cancel'),
};

/** Every command of the extension; registerCommands wraps each with logging, trust and error reporting. */
export const commandTable: CommandSpec[] = (Object.keys(commandMeta) as CommandId[]).map((id) => ({
  id,
  needsTrust: commandMeta[id].needsTrust,
  handler: (ctx, node, args) => handlers[id](ctx, node, args),
}));
