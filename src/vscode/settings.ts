import * as vscode from 'vscode';

/** Every setting the extension reads, typed; the only place that calls getConfiguration. */
export interface Settings {
  boxPath: string | undefined;
  builder: 'auto' | 'box' | 'builtin';
  refreshIntervalSeconds: number;
  sshPath: string;
  sshArgs: string[];
  confirmProductionChanges: boolean;
  /** Show the side bar when a PHP project opens. */
  revealOnStartup: boolean;
}

export function readSettings(scope?: vscode.ConfigurationScope): Settings {
  const c = vscode.workspace.getConfiguration('pharRollout', scope);
  return {
    boxPath: c.get<string>('boxPath')?.trim() || undefined,
    builder: c.get<'auto' | 'box' | 'builtin'>('builder', 'auto'),
    refreshIntervalSeconds: Math.max(0, c.get<number>('refreshIntervalSeconds', 15)),
    sshPath: c.get<string>('sshPath', 'ssh') || 'ssh',
    sshArgs: c.get<string[]>('sshArgs', []),
    confirmProductionChanges: c.get<boolean>('confirmProductionChanges', true),
    revealOnStartup: c.get<boolean>('revealOnStartup', false),
  };
}

export function affectsSettings(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration('pharRollout');
}
