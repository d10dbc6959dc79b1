import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunResult } from '../../src/core/exec/process';
import type { ExecOptions, Transport } from '../../src/core/exec/transport';
import { readHistory } from '../../src/core/rollout/history';
import { READ_SCRIPT, SharedStore, WRITE_SCRIPT, parseSections, readAnswer } from '../../src/core/rollout/sharedStore';
import { StateFileError, applyEvent, readState, stateText } from '../../src/core/rollout/state';
import type { HistoryEvent, RolloutState } from '../../src/core/rollout/types';
import { fakeResult } from '../helpers/fakeResult';

const running: RolloutState = {
  version: 1,
  status: 'running',
  steps: [10, 50],
  stepIndex: 0,
  split: 10,
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

/**
 * A host at the unit boundary: answers the store's two scripts from files in memory, as the real
 * scripts do (test/integration/sharedRollout.test.ts runs the real ones). Counts round trips.
 */
class FakeHost implements Transport {
  readonly host = 'deploy@edge';
  files = new Map<string, string>();
  pushed = new Set<string>();
  calls: string[] = [];
  down = false;

  async exec(args: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    const [sh, c, script, , dir, b, ...rest] = args;
    assert.deepEqual([sh, c], ['sh', '-c']);
    if (this.down) throw new Error('ssh: connect to host edge port 22: Connection refused');
    const input = typeof options.input === 'string' ? options.input : '';
    const sec = (name: string, body = '') => `\n--${b} ${name}\n${body}`;
    const st = this.files.get(`${dir}/state.json`);
    const stateSec = () => (st === undefined ? sec('state 0') : sec('state 1', st));
    const hist = (off: string) => {
      if (off === '-') return '';
      const h = Buffer.from(this.files.get(`${dir}/history.jsonl`) ?? '');
      const o = Number(off) > h.length ? 0 : Number(off);
      return sec(`history ${o} ${h.length} ${h.length}`, h.subarray(o).toString());
    };
    let out: string;
    let code = 0;
    if (script === READ_SCRIPT) {
      this.calls.push('read');
      const [off, lockDir] = rest;
      out = stateSec() + (lockDir ? sec('lock 0') : sec('lock 0')) + hist(off);
    } else if (script === WRITE_SCRIPT) {
      this.calls.push('write');
      const [mode, expected, next, off, id, seen] = rest;
      if ((mode === 'absent' && st !== undefined) || (mode === 'same' && st !== expected)) {
        code = 9;
        out = stateSec() + hist(off);
      } else {
        let push = true;
        if (seen && (this.files.get(`${dir}/history.jsonl`) ?? '').split('\n').includes(seen)) push = false;
        if (push && id) push = !this.pushed.has(id) && this.pushed.add(id) !== undefined;
        if (push && input) this.files.set(`${dir}/history.jsonl`, (this.files.get(`${dir}/history.jsonl`) ?? '') + input);
        const w = mode === 'ifabsent' && st !== undefined ? '' : next;
        if (w) this.files.set(`${dir}/state.json`, w);
        out = sec(`wrote ${push ? 1 : 0} ${w ? 1 : 0}`) + hist(off);
      }
    } else throw new Error('an unknown script');
    return fakeResult(args, out + sec('end'), code);
  }
  command(): Promise<RunResult> {
    throw new Error('not used');
  }
  upload(): Promise<void> {
    throw new Error('not used');
  }
  async dispose(): Promise<void> {}
}

const DIR = '/etc/nginx/conf.d/app.conf.rollout';

describe('shared rollout store (state and history on the first LB host)', () => {
  let project: string;
  let host: FakeHost;
  const store = () => new SharedStore(host, DIR, '/etc/nginx/conf.d/app.conf.lock', `edge:${DIR}`, project);
  const event = (action: string): HistoryEvent => ({ time: new Date().toISOString(), user: 'alice@example.com', action, result: 'ok' });

  beforeEach(async () => {
    project = await fs.mkdtemp(path.join(os.tmpdir(), 'shared-store-'));
    host = new FakeHost();
  });
  afterEach(() => fs.rm(project, { recursive: true, force: true }));

  it('splits an answer by its random boundary: foreign text cannot fake a section, a cut answer is refused', () => {
    const b = 'a1b2c3';
    const evil = `{"x":1}\n--${'f'.repeat(6)} state 0\n--zz end\n`;
    const sections = parseSections(`\n--${b} state 1\n${evil}\n--${b} lock 0\n--${b} history 0 3 3\nab\n\n--${b} end\n`, b, 'edge:/x');
    assert.deepEqual(
      sections.map((s) => s.name),
      ['state', 'lock', 'history'],
    );
    const a = readAnswer(sections, 'edge:/x');
    assert.equal(a.state?.text, evil, 'the state text is exact, trailing newline included');
    assert.deepEqual(a.history, { from: 0, to: 3, size: 3, text: 'ab\n' });
    assert.equal(a.lock, null);
    assert.throws(() => parseSections(`\n--${b} state 1\n{}`, b, 'edge:/x'), /cut short/);
    assert.throws(() => parseSections(`Welcome to edge!\n--${b} end\n`, b, 'edge:/x'), /answered something else/);
    assert.throws(() => readAnswer([{ name: 'history', fields: ['0', 'x', '1'], body: '' }], 'edge:/x'), /malformed history header/);
  });

  it('reads state, lock and new history in one round trip, and a state write is one more', async () => {
    host.files.set(`${DIR}/state.json`, stateText(running));
    host.files.set(`${DIR}/history.jsonl`, JSON.stringify(event('ramp')) + '\n');
    const s = store();
    const read = await s.read({ lock: true });
    assert.equal(read.state?.split, 10);
    assert.equal(read.cached, undefined);
    assert.equal(s.roundTrips, 1);
    // The cache: the state as seen, the history copied byte for byte.
    assert.deepEqual(await readState(project), running);
    assert.deepEqual(
      (await readHistory(project)).map((e) => e.action),
      ['ramp'],
    );
    const paused = await applyEvent(
      s,
      'pause',
      (c) => ({ ...c!, message: 'paused by alice' }),
      () => [{ action: 'pause', result: 'ok' }],
    );
    assert.equal(paused?.status, 'paused');
    assert.equal(s.roundTrips, 2, 'state and its history event: one write');
    assert.deepEqual(host.calls, ['read', 'write']);
    assert.equal((await readState(project))?.status, 'paused');
    assert.deepEqual(
      (await readHistory(project)).map((e) => e.action),
      ['ramp', 'pause'],
    );
    // Only the new bytes come next time.
    await s.read();
    assert.equal(s.roundTrips, 3);
  });

  it('a state changed on the host meanwhile (a pause from another checkout) is kept: compare and swap, retried once', async () => {
    host.files.set(`${DIR}/state.json`, stateText(running));
    const runner = store();
    await runner.read();
    // Bob pauses from his checkout.
    const bob = new SharedStore(host, DIR, '', `edge:${DIR}`, await fs.mkdtemp(path.join(os.tmpdir(), 'shared-store-bob-')));
    await applyEvent(bob, 'pause', (c) => ({ ...c!, message: 'paused by bob' }));
    host.calls = [];
    const after = await runner.update(
      (s) => (s ? { ...s, planIndex: 1 } : undefined),
      () => [{ action: 'analysis', result: 'pass' }],
    );
    assert.deepEqual([after?.status, after?.message, after?.planIndex], ['paused', 'paused by bob', 1]);
    assert.deepEqual(host.calls, ['write', 'write'], 'the refused write carried the current state back: no extra read');
    const lines = (host.files.get(`${DIR}/history.jsonl`) ?? '').trim().split('\n');
    assert.equal(lines.filter((l) => l.includes('"analysis"')).length, 1, 'the event of a retried write is written once');
  });

  it('a garbled state on the host is a located error, never "no rollout", and is not written over', async () => {
    host.files.set(`${DIR}/state.json`, '{"version":1,"status":"run');
    const s = store();
    const read = await s.read();
    assert.ok(read.stateError instanceof StateFileError);
    assert.equal(read.stateError.location?.file, `edge:${DIR}/state.json`);
    assert.match(read.stateError.format(), /^edge:\/etc\/nginx\/conf\.d\/app\.conf\.rollout\/state\.json:1:\d+: .*corrupt: not valid JSON/);
    await assert.rejects(
      applyEvent(s, 'pause', (c) => c!),
      StateFileError,
    );
    assert.equal(host.files.get(`${DIR}/state.json`), '{"version":1,"status":"run');
  });

  it('migration: a checkout with its own .rollout/ state and history pushes them up once, never losing history', async () => {
    const local = path.join(project, '.rollout');
    await fs.mkdir(local, { recursive: true });
    await fs.writeFile(path.join(local, 'state.json'), stateText({ ...running, status: 'paused' }));
    const old = [event('build'), event('ramp')].map((e) => JSON.stringify(e)).join('\n') + '\n';
    await fs.writeFile(path.join(local, 'history.jsonl'), old);
    const s = store();
    const read = await s.read();
    assert.equal(read.state?.status, 'paused', 'the local state went up: the store had none');
    assert.deepEqual(host.calls, ['write', 'read'], 'one round trip to push, one to read');
    const shared = (host.files.get(`${DIR}/history.jsonl`) ?? '').trim().split('\n');
    assert.deepEqual(
      shared.map((l) => (JSON.parse(l) as HistoryEvent).action),
      ['build', 'ramp', 'migrated'],
    );
    assert.deepEqual(
      (await readHistory(project)).map((e) => e.action),
      ['build', 'ramp', 'migrated'],
    );
    assert.equal(await fs.readFile(path.join(local, 'history.jsonl.pre-shared'), 'utf8'), old, 'the local files are kept beside');
    // A second process of the same checkout, and the next access: nothing is pushed again.
    host.calls = [];
    await store().read();
    assert.deepEqual(host.calls, ['read']);
    assert.equal((host.files.get(`${DIR}/history.jsonl`) ?? '').trim().split('\n').length, 3);
  });

  it('a host that cannot be reached: readers get the copy, marked; an event is kept and pushed by the next access', async () => {
    host.files.set(`${DIR}/state.json`, stateText(running));
    const s = store();
    await s.read();
    host.down = true;
    const read = await s.read();
    assert.equal(read.state?.split, 10);
    assert.match(read.cached ?? '', /Connection refused; showing this checkout's copy from .+ \(\.rollout\/\)/);
    await s.append(event('unlock'));
    await assert.rejects(
      applyEvent(store(), 'pause', (c) => c!),
      /Connection refused/,
    );
    host.down = false;
    await store().read();
    assert.match(host.files.get(`${DIR}/history.jsonl`) ?? '', /"unlock"/);
    await store().read();
    assert.equal((host.files.get(`${DIR}/history.jsonl`) ?? '').match(/"unlock"/g)?.length, 1);
    await assert.rejects(fs.stat(path.join(project, '.rollout', 'history.pending.jsonl')));
  });

  it('a shared history replaced on the host (shorter than the copy) starts the copy over and keeps the old one beside', async () => {
    const two = [event('build'), event('ramp')].map((e) => JSON.stringify(e) + '\n').join('');
    host.files.set(`${DIR}/history.jsonl`, two);
    await store().read();
    assert.equal((await readHistory(project)).length, 2);
    host.files.set(`${DIR}/history.jsonl`, JSON.stringify(event('pause')) + '\n');
    await store().read();
    assert.deepEqual(
      (await readHistory(project)).map((e) => e.action),
      ['pause'],
    );
    const kept = (await fs.readdir(path.join(project, '.rollout'))).filter((f) => f.startsWith('history.jsonl.replaced-'));
    assert.equal(kept.length, 1);
    assert.equal(await fs.readFile(path.join(project, '.rollout', kept[0]), 'utf8'), two);
  });

  it('a checkout that lost its shared.json does not push its copy of the shared history back as a migration', async () => {
    host.files.set(`${DIR}/history.jsonl`, [event('build'), event('ramp')].map((e) => JSON.stringify(e) + '\n').join(''));
    await store().read();
    await fs.rm(path.join(project, '.rollout', 'shared.json'));
    await store().read();
    assert.equal((host.files.get(`${DIR}/history.jsonl`) ?? '').trim().split('\n').length, 2, 'nothing pushed twice');
    assert.deepEqual(
      (await readHistory(project)).map((e) => e.action),
      ['build', 'ramp'],
    );
  });
});
