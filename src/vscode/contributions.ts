/**
 * What package.json contributes, as typed constants: command ids with their trust flag and the tree
 * rows whose menus show them, view ids, context keys and tree-item context values. No vscode import,
 * so test/unit/contributions.test.ts checks package.json against these tables (and back).
 */
import type { RolloutStatus } from '../core/rollout/types';

export const Views = {
  container: 'pharRollout',
  project: 'pharRollout.project',
  rollout: 'pharRollout.rollout',
} as const;

/** Context keys that package.json `when` clauses read. */
export const ContextKeys = {
  hasComposer: 'pharRollout.hasComposer',
  hasRolloutJson: 'pharRollout.hasRolloutJson',
  hasLoadBalancers: 'pharRollout.hasLoadBalancers',
  rolloutStatus: 'pharRollout.rolloutStatus',
  /** The canary carries traffic (> 0 %): a traffic rollback has something to do. */
  canaryTraffic: 'pharRollout.canaryTraffic',
  /** A traffic change is open for review in the diff editor (its Apply/Cancel show in the editor title). */
  reviewPending: 'pharRollout.reviewPending',
} as const;

export const TASK_TYPE = 'phar-rollout';

/** Every status the rollout row can show (a Record, so a new core status fails to compile until listed). */
const ROLLOUT_ROW_STATUSES: Record<RolloutStatus | 'idle', true> = { idle: true, running: true, paused: true, failed: true, done: true };
export type RolloutRowStatus = keyof typeof ROLLOUT_ROW_STATUSES;

/**
 * Tree-item context values (what `viewItem` is in a menu's `when`). A trailing ` copyable` marks
 * rows that offer Copy. Every row sets one of these; nothing else reaches `contextValue`.
 */
export const ContextValues = {
  project: 'project',
  configFile: 'configFile',
  configError: 'configError',
  noBuild: 'build',
  lastBuild: 'build copyable',
  artifacts: 'artifacts',
  artifact: 'artifact copyable',
  lock: 'lock',
  loadBalancer: 'loadBalancer',
  stableGroup: 'group.stable',
  canaryGroup: 'group.canary',
  stableBackend: 'backend.stable',
  canaryBackend: 'backend.canary',
  history: 'history',
  historyEvent: 'historyEvent',
} as const;

export type RolloutStateContextValue = `rolloutState.${RolloutRowStatus}`;
export type ContextValue = (typeof ContextValues)[keyof typeof ContextValues] | RolloutStateContextValue;

/** The rollout row's context value for a status. */
export function rolloutStateContextValue(status: RolloutRowStatus): RolloutStateContextValue {
  return `rolloutState.${status}`;
}

const rolloutStates = (Object.keys(ROLLOUT_ROW_STATUSES) as RolloutRowStatus[]).map(rolloutStateContextValue);

/** Every context value a row can carry. */
export const allContextValues: readonly ContextValue[] = [...Object.values(ContextValues), ...rolloutStates];

/** What package.json says about a command, mirrored here and checked by the unit test. */
export interface CommandMeta {
  /** Starts a process or touches a server: `enablement: isWorkspaceTrusted`, refused when untrusted. */
  needsTrust: boolean;
  /** Rows whose inline (hover) actions show it. */
  inline?: readonly ContextValue[];
  /** Rows whose context menu shows it. */
  context?: readonly ContextValue[];
}

const V = ContextValues;
const groups = [V.stableGroup, V.canaryGroup] as const;
const backends = [V.stableBackend, V.canaryBackend] as const;

/** Command ids, the same strings as package.json's contributes.commands. */
export const Commands = {
  build: 'pharRollout.build',
  rebuild: 'pharRollout.rebuild',
  refresh: 'pharRollout.refresh',
  showPanel: 'pharRollout.showPanel',
  createRolloutJson: 'pharRollout.createRolloutJson',
  openConfig: 'pharRollout.openConfig',
  showLog: 'pharRollout.showLog',
  deploy: 'pharRollout.deploy',
  ramp: 'pharRollout.ramp',
  promote: 'pharRollout.promote',
  rollback: 'pharRollout.rollback',
  pause: 'pharRollout.pause',
  resume: 'pharRollout.resume',
  verifySplit: 'pharRollout.verifySplit',
  unlock: 'pharRollout.unlock',
  copyValue: 'pharRollout.copyValue',
  openHistory: 'pharRollout.openHistory',
  recover: 'pharRollout.recover',
  startRollout: 'pharRollout.startRollout',
  openTimeline: 'pharRollout.openTimeline',
  showDetails: 'pharRollout.showDetails',
  openRow: 'pharRollout.openRow',
  applyChange: 'pharRollout.applyChange',
  cancelChange: 'pharRollout.cancelChange',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

/** Per command: trust and the rows that offer it. A missing command is a compile error. */
export const commandMeta: Record<CommandId, CommandMeta> = {
  [Commands.build]: { needsTrust: true, inline: [V.project, V.noBuild, V.lastBuild] },
  [Commands.rebuild]: { needsTrust: true },
  [Commands.refresh]: { needsTrust: false },
  [Commands.showPanel]: { needsTrust: false },
  [Commands.createRolloutJson]: { needsTrust: false },
  [Commands.openConfig]: { needsTrust: false },
  [Commands.showLog]: { needsTrust: false },
  [Commands.deploy]: { needsTrust: true, inline: [...groups, ...backends], context: [...groups, ...backends, V.artifact] },
  [Commands.ramp]: { needsTrust: true, context: [V.loadBalancer, ...rolloutStates] },
  [Commands.promote]: { needsTrust: true, context: [V.canaryGroup, ...rolloutStates] },
  [Commands.rollback]: { needsTrust: true, inline: [V.loadBalancer], context: [V.loadBalancer, ...rolloutStates, ...groups] },
  [Commands.pause]: { needsTrust: true, context: [rolloutStateContextValue('running')] },
  [Commands.resume]: { needsTrust: true, context: [rolloutStateContextValue('paused')] },
  [Commands.verifySplit]: { needsTrust: true, context: [V.loadBalancer] },
  [Commands.unlock]: { needsTrust: true, context: [V.lock] },
  [Commands.copyValue]: { needsTrust: false, context: [V.lastBuild, V.artifact] },
  [Commands.openHistory]: { needsTrust: false, context: [V.history] },
  [Commands.recover]: { needsTrust: true, context: [V.loadBalancer, ...rolloutStates] },
  [Commands.startRollout]: { needsTrust: true, context: [...rolloutStates] },
  [Commands.openTimeline]: { needsTrust: false, context: [...rolloutStates] },
  [Commands.showDetails]: { needsTrust: false, context: [...backends, V.loadBalancer] },
  [Commands.openRow]: { needsTrust: false },
  [Commands.applyChange]: { needsTrust: true },
  [Commands.cancelChange]: { needsTrust: false },
};
