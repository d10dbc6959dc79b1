import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRolloutConfig } from '../../src/core/config/rolloutConfig';
import { inputErrorsOf } from '../../src/core/errors';
import type { InputError } from '../../src/core/errors';
import { TransportPool } from '../../src/core/exec/transportFor';
import { nullLogger } from '../../src/core/log';
import type { Intent } from '../../src/core/traffic/live';
import { changeRunning, disagreement, loadEmergencyState } from '../../src/vscode/liveState';

/**
 * The views' emergency path (rollout.json broken) reaches an ssh LB through the transports it is
 * given: the extension's pool, built from the pharRollout.sshPath / sshArgs settings.
 */
describe('emergency state: rollout.json broken, the last applied configuration over ssh', () => {
  let dir: string;
  let log: string;
  let pool: TransportPool;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'emergency-'));
    log = path.join(dir, 'ssh.log');
    // A stand-in for the ssh setting: notes its arguments, then runs the remote command here.
    const fakeSsh = path.join(dir, 'fake-ssh');
    await fs.writeFile(
      fakeSsh,
      [
        '#!/bin/sh',
        // One line per call: the options and the destination (the remote command spans lines).
        'opts=; dest=; next=0',
        'for a in "$@"; do [ "$a" = -O ] && exit 0; [ $next = 1 ] && { dest=$a; next=2; }; [ "$a" = -- ] && next=1; [ $next = 0 ] && opts="$opts $a"; last=$a; done',
        `echo "$opts -- $dest" >> '${log}'`,
        'exec sh -c "$last"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    pool = new TransportPool({ sshPath: fakeSsh, sshArgs: ['-p', '2222'], log: nullLogger });
  });

  afterEach(async () => {
    await pool.dispose();
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function brokenProject(): Promise<InputError[]> {
    const project = path.join(dir, 'project');
    await fs.mkdir(project);
    const lb = { name: 'edge', ssh: 'deploy@lb.invalid', file: path.join(dir, 'app.conf'), upstream: 'app' };
    const applied = {
      version: 1,
      generation: null,
      split: 25,
      time: '2026-12-02T10:00:00.000Z',
      lb: 'edge',
      config: { app: 'app', backends: [], loadBalancers: [lb], traffic: { mode: 'weighted', steps: [25] } },
      file: '',
    };
    await fs.writeFile(`${lb.file}.applied.json`, JSON.stringify(applied));
    // A typo an autosave wrote: the LB entry still parses leniently.
    await fs.writeFile(path.join(project, 'rollout.json'), `{ "app": "app", "loadBalancers": [${JSON.stringify(lb)}], oops }`);
    const errors = await readRolloutConfig(project).then(
      () => [],
      (err) => inputErrorsOf(err),
    );
    assert.ok(errors.length > 0, 'rollout.json has located errors');
    return errors;
  }

  it('reads the applied configuration through the given ssh program and arguments, and says where it came from', async () => {
    const errors = await brokenProject();
    const state = await loadEmergencyState(path.join(dir, 'project'), errors, {
      log: nullLogger,
      signal: new AbortController().signal,
      transports: pool,
    });
    assert.ok(state.applied, state.live.error);
    assert.match(
      state.live.appliedSource ?? '',
      /^edge:.*app\.conf\.applied\.json \(applied 2026-12-02T10:00:00\.000Z; load balancers found in rollout\.json\)$/,
    );
    assert.deepEqual(
      state.applied.config.loadBalancers.map((l) => l.name),
      ['edge'],
    );
    const calls = (await fs.readFile(log, 'utf8')).trim().split('\n');
    assert.ok(calls.length > 0);
    for (const c of calls) assert.match(c, / -p 2222 .*-- deploy@lb\.invalid$/, `every ssh call carries the settings: ${c}`);
  });

  it('without an applied configuration the state says why, and nothing throws', async () => {
    const errors = await brokenProject();
    await fs.rm(path.join(dir, 'app.conf.applied.json'));
    const state = await loadEmergencyState(path.join(dir, 'project'), errors, {
      log: nullLogger,
      signal: new AbortController().signal,
      transports: pool,
    });
    assert.equal(state.applied, undefined);
    assert.match(state.live.error ?? '', /last applied configuration could not be found/);
  });

  it('words a disagreement as the views show it', () => {
    assert.equal(disagreement({ name: 'edge', split: 0, fileSplit: 50, drift: 'x' }), 'file 50 %, nginx serves 0 %');
    assert.equal(disagreement({ name: 'edge', split: 0, interrupted: true }), 'a change did not finish, nginx serves 0 %');
    assert.equal(disagreement({ name: 'edge', split: 25, fileSplit: 25 }), undefined);
  });

  it('a change whose process runs is in progress, not interrupted: alive here, or young from another host', () => {
    const intent = (o: Partial<Intent>) => ({ op: 'x', owner: 'dev@example.com', pid: process.pid, host: os.hostname(), ...o }) as Intent;
    assert.equal(changeRunning(intent({}), 0), true, 'this process');
    assert.equal(changeRunning(intent({ pid: 2 ** 22 + 7 }), 0), false, 'a dead pid on this host');
    assert.equal(changeRunning(intent({ host: 'elsewhere.invalid' }), 30), true, 'young, from another host');
    assert.equal(changeRunning(intent({ host: 'elsewhere.invalid' }), 600), false, 'ten minutes old, from another host');
  });
});
