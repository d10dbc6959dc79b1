/** Command ids: the same strings as package.json's contributes.commands. */
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
} as const;

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
} as const;

export const TASK_TYPE = 'phar-rollout';
