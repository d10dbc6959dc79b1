import * as vscode from 'vscode';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { readComposerJson } from '../core/config/composerJson';
import type { ComposerInfo } from '../core/config/composerJson';
import { readRolloutConfig, ROLLOUT_FILE } from '../core/config/rolloutConfig';
import type { RolloutConfig } from '../core/config/rolloutConfig';
import { inputErrorsOf, describeError } from '../core/errors';
import type { InputError } from '../core/errors';
import type { Logger } from '../core/log';
import type { Artifact } from '../core/phar/artifact';
import { listArtifacts } from '../core/phar/artifactStore';
import { ContextKeys } from './contributions';
import type { ConfigDiagnostics } from './diagnostics';
import type { LiveState } from './liveState';
import { emptyLiveState, loadEmergencyState, loadLiveState } from './liveState';
import type { AppliedProject } from '../core/rollout/appliedProject';
import type { Settings } from './settings';
import { TransportPool } from '../core/exec/transportFor';
import { readBoxConfig } from '../core/config/boxConfig';
import { chooseCompiler } from '../core/phar/pharBuild';

/**
 * What the views show: the project's files as parsed, its artifacts and what the servers report.
 * The views read it; commands change the world and then call reload/refreshLive.
 */
export class ProjectModel implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  root: string | undefined;
  composer: ComposerInfo | undefined;
  config: RolloutConfig | undefined;
  hasRolloutJson = false;
  errors: InputError[] = [];
  artifacts: Artifact[] = [];
  /** Which compiler the next build will use (the same choice the build makes). */
  compiler: 'builtin' | 'box' | undefined;
  /** The last Build Phar found nothing changed (the tree says "up to date"). */
  lastBuildUpToDate = false;
  live: LiveState = emptyLiveState();
  /**
   * rollout.json has errors: the configuration the live split was last applied with (read from the
   * LBs by refreshLive), so the views keep showing live state and a traffic rollback can run.
   */
  applied: AppliedProject | undefined;
  private liveAbort: AbortController | undefined;
  /** The newest refreshLive: one that a newer call aborted resolves with it, so `await refreshLive()` means fresh. */
  private latestRefresh: { id: number; done: Promise<void> } = { id: 0, done: Promise.resolve() };
  /** Bumped by every reload: a reload that finishes after a newer one started drops its result. */
  private reloadGeneration = 0;
  private pool: TransportPool | undefined;
  private poolKey = '';

  constructor(
    private readonly log: Logger,
    private readonly diagnostics: ConfigDiagnostics,
    private readonly settings: () => Settings,
  ) {}

  /** The configuration live state is read with: rollout.json's, else (it has errors) the last applied one. */
  get liveConfig(): RolloutConfig | undefined {
    return this.config ?? this.applied?.config;
  }

  /** The app name shown everywhere: rollout.json's app, else composer.json's package name. */
  get appName(): string | undefined {
    return this.config?.app ?? this.composer?.shortName ?? (this.root ? path.basename(this.root) : undefined);
  }

  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** Picks the first workspace folder holding composer.json or rollout.json. */
  private findRoot(): string | undefined {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const dir = folder.uri.fsPath;
      if (existsSync(path.join(dir, 'composer.json')) || existsSync(path.join(dir, ROLLOUT_FILE))) return dir;
    }
    return undefined;
  }

  /** Re-reads composer.json, rollout.json and the artifact store; updates diagnostics and context keys. */
  async reload(): Promise<void> {
    const generation = ++this.reloadGeneration;
    const root = this.findRoot();
    const errors: InputError[] = [];
    let composer: ComposerInfo | undefined;
    let config: RolloutConfig | undefined;
    let artifacts: Artifact[] = [];
    const hasRolloutJson = Boolean(root && existsSync(path.join(root, ROLLOUT_FILE)));
    let compiler: 'builtin' | 'box' | undefined;
    if (root) {
      await Promise.all([
        readComposerJson(root).then(
          (c) => (composer = c),
          (err) => this.collect(err, errors),
        ),
        readRolloutConfig(root).then(
          (c) => (config = c),
          (err) => this.collect(err, errors),
        ),
        listArtifacts(root).then(
          (a) => (artifacts = a),
          (err) => this.log.warn(`Cannot list artifacts: ${describeError(err)}`),
        ),
      ]);
      // Unsupported box.json keys matter only when the built-in compiler will read it; box reports its own.
      const cfg = config as RolloutConfig | undefined;
      const { builder, boxPath } = this.settings();
      compiler = (await chooseCompiler(root, { builder, boxPath, rolloutBox: cfg?.build.box })).mode;
      await readBoxConfig(root, { strict: compiler === 'builtin', explicit: cfg?.build.config }).catch((err) => this.collect(err, errors));
    }
    // Overlapping reloads can finish out of order: only the newest one's reading is kept.
    if (generation !== this.reloadGeneration) return;
    Object.assign(this, { root, composer, config, artifacts, hasRolloutJson, errors, compiler });
    if (config || !hasRolloutJson) this.applied = undefined;
    this.diagnostics.set(errors);
    await Promise.all([
      vscode.commands.executeCommand(
        'setContext',
        ContextKeys.hasComposer,
        Boolean(this.root && existsSync(path.join(this.root, 'composer.json'))),
      ),
      vscode.commands.executeCommand('setContext', ContextKeys.hasRolloutJson, this.hasRolloutJson),
      vscode.commands.executeCommand(
        'setContext',
        ContextKeys.hasLoadBalancers,
        ((config as RolloutConfig | undefined)?.loadBalancers.length ?? 0) > 0,
      ),
    ]);
    this.changed.fire();
  }

  private collect(err: unknown, into: InputError[]): void {
    const located = inputErrorsOf(err);
    if (located.length) into.push(...located);
    else this.log.error(describeError(err));
  }

  /**
   * Probes backends and reads LBs and the rollout state, without blocking the views:
   * the tree shows the last answer (and "refreshing") until the new one arrives.
   * Untrusted workspaces start no process and send no probe.
   */
  refreshLive(): Promise<void> {
    const id = this.latestRefresh.id + 1;
    const done = this.refreshLiveOnce(id);
    this.latestRefresh = { id, done };
    return done;
  }

  /** A refresh aborted by a newer one waits for that one (a refresh command must not return stale state). */
  private superseded(id: number): Promise<void> {
    return this.latestRefresh.id !== id ? this.latestRefresh.done : Promise.resolve();
  }

  private async refreshLiveOnce(id: number): Promise<void> {
    // rollout.json with errors: the emergency path (the last applied configuration, read from the LBs).
    const emergency = !this.config && this.hasRolloutJson && this.errors.length > 0;
    if (!this.root || (!this.config && !emergency) || !this.trusted) {
      this.live = emptyLiveState();
      this.applied = undefined;
      this.changed.fire();
      return;
    }
    this.liveAbort?.abort();
    const abort = new AbortController();
    this.liveAbort = abort;
    this.live = { ...this.live, refreshing: true };
    this.changed.fire();
    try {
      const options = { log: this.log, signal: abort.signal, transports: this.transports() };
      let next: LiveState;
      if (this.config) next = await loadLiveState(this.config, options);
      else {
        const e = await loadEmergencyState(this.root, this.errors, options);
        // rollout.json may have been fixed meanwhile: the refresh after that reload shows it.
        if (abort.signal.aborted || this.config) return this.superseded(id);
        this.applied = e.applied;
        next = e.live;
        await vscode.commands.executeCommand('setContext', ContextKeys.hasLoadBalancers, (e.applied?.config.loadBalancers.length ?? 0) > 0);
      }
      if (abort.signal.aborted) return this.superseded(id);
      this.live = next;
    } catch (err) {
      if (abort.signal.aborted) return this.superseded(id);
      this.log.warn(`Refresh failed: ${describeError(err)}`);
      this.live = { ...this.live, refreshing: false, error: describeError(err) };
    }
    await vscode.commands.executeCommand('setContext', ContextKeys.rolloutStatus, this.live.rollout?.status ?? 'none');
    await vscode.commands.executeCommand('setContext', ContextKeys.canaryTraffic, (this.live.rollout?.split ?? 0) > 0);
    this.changed.fire();
  }

  /** One pool of (multiplexed) connections for the whole extension, remade when ssh settings change. */
  transports(): TransportPool {
    const s = this.settings();
    const key = JSON.stringify([s.sshPath, s.sshArgs]);
    if (!this.pool || key !== this.poolKey) {
      void this.pool?.dispose();
      this.pool = new TransportPool({ sshPath: s.sshPath, sshArgs: s.sshArgs, log: this.log });
      this.poolKey = key;
    }
    return this.pool;
  }

  dispose(): void {
    this.liveAbort?.abort();
    void this.pool?.dispose();
    this.changed.dispose();
  }
}
