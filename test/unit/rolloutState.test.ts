import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../../src/core/errors';
import {
  TRANSITIONS,
  StateFileError,
  applyEvent,
  inProgress,
  readState,
  statePath,
  transition,
  updateState,
  writeState,
} from '../../src/core/rollout/state';
import type { RolloutEvent, RolloutPhase } from '../../src/core/rollout/state';
import type { RolloutState } from '../../src/core/rollout/types';

const running: RolloutState = {
  version: 1,
  status: 'running',
  steps: [1, 5, 25],
  stepIndex: 1,
  split: 5,
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const at = (status: RolloutState['status']): RolloutState => ({ ...running, status });

describe('rollout state machine and state.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-state-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('one table: status × event → status, refusals with their reasons', () => {
    const refused = (s: RolloutState | undefined, e: RolloutEvent) => {
      try {
        transition(s, e);
        return undefined;
      } catch (err) {
        assert.ok(err instanceof InputError, String(err));
        return err.format();
      }
    };
    assert.deepEqual(transition(undefined, 'start'), { to: 'running', fresh: true });
    assert.deepEqual(transition(at('done'), 'start'), { to: 'running', fresh: true });
    assert.deepEqual(transition(at('failed'), 'start'), { to: 'running', fresh: true });
    assert.deepEqual(transition(running, 'start'), { to: 'running', fresh: false });
    assert.equal(refused(at('paused'), 'start'), 'The rollout is paused — Resume it first ("resume"), or roll back.');
    assert.deepEqual(transition(at('paused'), 'step'), { to: 'paused', fresh: false }, 'a pause that landed mid-step is kept');
    assert.deepEqual(transition(running, 'pause'), { to: 'paused', fresh: false });
    assert.equal(refused(undefined, 'pause'), 'No rollout is running — Pause applies to a running rollout.');
    assert.equal(refused(at('done'), 'pause'), 'The rollout is done, not running — Pause applies to a running rollout.');
    assert.equal(refused(at('paused'), 'pause'), 'The rollout is paused, not running — Pause applies to a running rollout.');
    assert.deepEqual(transition(at('paused'), 'resume'), { to: 'running', fresh: false });
    assert.equal(refused(running, 'resume'), 'The rollout is running, not paused — Resume applies to a paused rollout.');
    assert.equal(refused(undefined, 'resume'), 'No rollout is running — Resume applies to a paused rollout.');
    for (const s of ['running', 'paused', 'failed', 'done'] as const) {
      assert.equal(transition(at(s), 'promote').to, 'done');
      assert.equal(transition(at(s), 'rollback').to, 'done');
      assert.equal(transition(at(s), 'gateFailed').to, 'failed');
    }
    assert.equal(transition(undefined, 'rollback').to, 'none', 'no rollout: nothing to record');
    // Every cell is filled (a new status or event cannot be left out).
    for (const from of Object.keys(TRANSITIONS) as RolloutPhase[]) assert.equal(Object.keys(TRANSITIONS[from]).length, 7, from);
    assert.equal(inProgress(running), true);
    assert.equal(inProgress(at('paused')), true);
    assert.equal(inProgress(at('done')), false);
    assert.equal(inProgress(undefined), false);
  });

  it('a state.json cut short is corrupt, named with what to do, never "no rollout"', async () => {
    await writeState(dir, at('paused'));
    const file = statePath(dir);
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.slice(0, 40));
    await assert.rejects(readState(dir), (err: unknown) => {
      assert.ok(err instanceof StateFileError, String(err));
      assert.equal(err.location?.file, file);
      assert.match(
        err.format(),
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .*state\\.json is corrupt: not valid JSON`),
      );
      assert.match(err.format(), /Repair it, or delete it/);
      return true;
    });
    for (const bad of ['', '[]', '{"version":1,"status":"paused"}', JSON.stringify({ ...running, status: 'weird' })]) {
      await fs.writeFile(file, bad);
      await assert.rejects(readState(dir), StateFileError, bad);
    }
    // A pause cannot be lost through it either: the event is refused with the same error.
    await assert.rejects(
      applyEvent(dir, 'step', () => running),
      StateFileError,
    );
  });

  it('a pause landing while a ramp saves its step is kept (read-modify-write under the state lock)', async () => {
    await writeState(dir, running);
    let pauseDone: Promise<unknown> | undefined;
    // The ramp's save reads "running"; a pause starts right then and must wait for the lock.
    const saved = await updateState(dir, (current) => {
      pauseDone = applyEvent(dir, 'pause', (c) => ({ ...c!, message: 'paused by bob' }));
      return { ...current!, split: 25, stepIndex: 2 };
    });
    assert.equal(saved?.split, 25);
    await pauseDone;
    const after = await readState(dir);
    assert.deepEqual([after?.status, after?.split, after?.message], ['paused', 25, 'paused by bob']);
    // The ramp's next save keeps the pause (step from paused → paused).
    const next = await applyEvent(dir, 'step', (disk, to) =>
      to === 'paused' ? { ...running, split: 50, message: disk!.message } : running,
    );
    assert.deepEqual([next?.status, next?.split, next?.message], ['paused', 50, 'paused by bob']);
    assert.deepEqual((await fs.readdir(path.dirname(statePath(dir)))).sort(), ['state.json'], 'no lock or temp file left behind');
  });
});
