import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { PharRolloutApi } from '../../../src/extension';

import type { SandboxInfo } from '../../helpers/sandbox';

/** What `sandbox up --json` printed; the runner passes it in PHAR_ROLLOUT_SANDBOX. */
export function sandbox(): SandboxInfo {
  const raw = process.env.PHAR_ROLLOUT_SANDBOX;
  assert.ok(raw, 'PHAR_ROLLOUT_SANDBOX is set by the runner');
  return JSON.parse(raw) as SandboxInfo;
}

export async function api(): Promise<PharRolloutApi> {
  const ext = vscode.extensions.getExtension<PharRolloutApi>('phar-rollout.phar-rollout');
  assert.ok(ext);
  return ext.activate();
}
