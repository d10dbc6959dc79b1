import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import type { LoadBalancerConfig } from '../../src/core/config/rolloutConfig';
import type { RunResult } from '../../src/core/exec/process';
import type { ExecOptions, Transport } from '../../src/core/exec/transport';
import { applyFiles, applySplit, dumpSpec, nginxPath, readSplit, renderFor } from '../../src/core/traffic/apply';
import { reconcile } from '../../src/core/traffic/intent';
import { readAppliedConfig, readLive, repairLive } from '../../src/core/traffic/live';
import { parseHeader } from '../../src/core/traffic/render';
import { CancelledError, OperationError } from '../../src/core/errors';
import { fakeResult } from '../helpers/fakeResult';

type ReloadResult = 'live' | 'emerg' | 'timeout' | 'fail';

/**
 * An LB host in memory that answers the traffic scripts (src/core/traffic/lbScripts.ts) the way the
 * real ones do, by their first line. Each exec is one transport call: one ssh round trip.
 */
class FakeLbHost implements Transport {
  readonly files = new Map<string, string>();
  /** Generation nginx serves. */
  served: string | undefined;
  testCode = 0;
  reloadResult: ReloadResult = 'live';
  readonly calls: string[] = [];
  /** Runs inside a call (to fire a signal "during" it). */
  during?: (script: string) => void;
  constructor(readonly host: string) {}

  async exec(args: readonly string[], options: ExecOptions = {}): Promise<RunResult> {
    assert.equal(args[0], 'sh');
    const script = /^# phar-rollout:(\w+)/.exec(args[2])?.[1] ?? '?';
    this.calls.push(script);
    const a = args.slice(4);
    let input = typeof options.input === 'string' ? options.input : '';
    // Mode wait (the reload call started beside the stage): it acts once told on stdin, as the script does.
    let wait: { mode: string; act: string } | undefined;
    if (script === 'reload' && a[1] === 'wait') {
      const text = await new Promise<string>((resolve) => {
        let t = '';
        (options.input as NodeJS.ReadableStream).on('data', (c) => (t += c)).on('end', () => resolve(t));
      });
      const [word, pid, elog] = text.split('\n', 3);
      if (word === 'go') {
        wait = { mode: 'apply', act: 'reload' };
        input = text.slice(word.length + pid.length + elog.length + 3);
      } else if (['restore', 'remove', 'keep'].includes(word)) wait = { mode: word, act: 'none' };
      else return fakeResult(args, '@stopped\n');
    }
    this.during?.(script);
    const out = (stdout: string, code = 0): RunResult => fakeResult(args, stdout, code);
    const f = a[0];
    const gen = (t?: string) => (t === undefined ? undefined : parseHeader(t)?.generation);
    switch (script) {
      case 'stage': {
        const live = this.files.get(f);
        const h = live === undefined ? undefined : parseHeader(live);
        const j = a[1];
        this.files.set(
          `${f}.intent`,
          `${j.slice(0, -1)},"beforeGeneration":"${h?.generation ?? ''}","beforeSplit":"${h ? h.split.toFixed(2) : ''}","hadFile":"${live === undefined ? 'none' : 'had'}"}`,
        );
        this.files.delete(`${f}.intent.done`);
        if (live !== undefined) this.files.set(`${f}.prev`, live);
        this.files.set(f, input);
        const derive = a[2] === '1' ? '@pid logs/nginx.pid\n@errlog logs/error.log\n' : '';
        return out(
          `@swapped ${live === undefined ? 'none' : 'had'}\n@test ${this.testCode}\n${derive}${this.testCode ? '| nginx: [emerg] unknown directive "bogus"\n' : ''}@before\n${live ?? ''}`,
        );
      }
      case 'reload': {
        const [mode0, act0, want, , , , , op] = a.slice(1);
        const { mode, act } = wait ?? { mode: mode0, act: act0 };
        const intentOf = (k: string) => this.files.get(`${f}.${k}`)?.includes(`"op":"${op}"`);
        if (mode === 'apply') this.files.set(`${f}.applied.json.new`, input);
        if (mode !== 'apply' && intentOf('intent.done')) {
          this.files.set(`${f}.intent`, this.files.get(`${f}.intent.done`)!);
          this.files.delete(`${f}.intent.done`);
        }
        if (mode === 'restore') {
          this.files.set(f, this.files.get(`${f}.prev`)!);
          this.files.delete(`${f}.prev`);
        } else if (mode === 'remove') this.files.delete(f);
        else if (mode === 'prev' || mode === 'confirmed') this.files.set(f, this.files.get(`${f}.${mode}`)!);
        if (mode !== 'apply') this.files.delete(`${f}.applied.json.new`);
        const markDone = () => {
          if (intentOf('intent')) {
            this.files.set(`${f}.intent.done`, this.files.get(`${f}.intent`)!);
            this.files.delete(`${f}.intent`);
          }
        };
        if (act !== 'reload') {
          markDone();
          return out('@placed\n@done\n');
        }
        const result = mode === 'apply' ? this.reloadResult : 'live';
        if (result === 'fail') return out('@placed\n@reload 1\n| nginx: [error] invalid PID number "" in "/run/nginx.pid"\n');
        if (result === 'emerg')
          return out('@placed\n@emerg 3\n| 2026/01/01 [emerg] 1#1: bind() to 127.0.0.1:29001 failed (98: Address already in use)\n');
        if (result === 'timeout') return out('@placed\n@timeout 10001 seen=0 old= 123\n');
        this.served = gen(this.files.get(f));
        assert.equal(this.served ?? '', want, 'confirmed the generation asked for');
        this.files.set(`${f}.confirmed`, this.files.get(f)!);
        if (mode === 'apply' && this.files.has(`${f}.applied.json.new`)) {
          this.files.set(`${f}.applied.json`, this.files.get(`${f}.applied.json.new`)!);
          this.files.delete(`${f}.applied.json.new`);
        }
        markDone();
        return out('@placed\n@live 104\n');
      }
      case 'inspect': {
        const lines: string[] = [];
        for (const k of ['', '.prev', '.confirmed']) {
          const t = this.files.get(f + k);
          if (t !== undefined) lines.push(`@head${k} ${t.split('\n')[0]}`);
        }
        for (const k of ['intent', 'intent.done']) {
          const t = this.files.get(`${f}.${k}`);
          if (t !== undefined) lines.push(`@${k} 3 ${t}`);
        }
        const served = [...this.files.entries()].find(([k, v]) => k.startsWith(f) && gen(v) === this.served && this.served);
        const h = served ? parseHeader(served[1]) : undefined;
        lines.push(`@status ${h ? JSON.stringify({ generation: h.generation, split: h.split, lb: 'x', mode: h.mode }) : ''}`);
        return out(lines.join('\n') + '\n');
      }
      case 'read': {
        const t = this.files.get(a[0]);
        return t === undefined ? out('', 3) : out(t);
      }
      case 'put':
        this.files.set(f, input);
        return out('');
      default:
        throw new Error(`unknown script ${script}`);
    }
  }
  async command(): Promise<RunResult> {
    throw new Error('every LB step runs as one script through exec');
  }
  async upload() {}
  async dispose() {}
}

function lb(name: string, ssh?: string): LoadBalancerConfig {
  return { name, ssh, file: `/etc/nginx/${name}.conf`, upstream: 'myapp', test: ['nginx', '-t', '-q'], reload: ['nginx', '-s', 'reload'] };
}

const config = {
  backends: [
    { name: 'web-1', group: 'stable' as const, upstream: '127.0.0.1:9001', dir: '/x', weight: 1 },
    { name: 'web-2', group: 'canary' as const, upstream: '127.0.0.1:9002', dir: '/y', weight: 1 },
  ],
  traffic: { mode: 'weighted' as const, steps: [1, 5, 25, 50, 100], stickyKey: 'address', forceHeader: 'X-Canary', forceCookie: 'canary' },
};

describe('traffic apply (fake LB hosts answering the scripts)', () => {
  let hosts: Map<string, FakeLbHost>;
  let lbs: LoadBalancerConfig[];
  const transportOf = (l: LoadBalancerConfig) => hosts.get(l.name)!;
  const cfg = () => ({ ...config, loadBalancers: lbs });
  const fileOf = (name: string) => hosts.get(name)!.files.get(`/etc/nginx/${name}.conf`)!;

  beforeEach(() => {
    lbs = [lb('a', 'deploy@a'), lb('b', 'deploy@b')];
    hosts = new Map(lbs.map((l) => [l.name, new FakeLbHost(l.ssh!)]));
    // Both start on a confirmed 5 % file.
    for (const l of lbs) {
      const h = hosts.get(l.name)!;
      const text = renderFor(config, l, 5, new Date(0));
      h.files.set(l.file, text);
      h.files.set(`${l.file}.confirmed`, text);
      h.served = parseHeader(text)!.generation;
    }
  });

  it('a split change on an ssh LB costs 2 round trips: stage+swap+test, then reload+confirm', async () => {
    const applied = await applySplit(cfg(), 25, transportOf, { owner: 'dev@example.com' });
    for (const [name, h] of hosts) {
      assert.deepEqual(h.calls, ['stage', 'reload'], `${name}: one call per phase`);
      assert.equal(parseHeader(fileOf(name))!.split, 25);
      assert.equal(h.served, parseHeader(fileOf(name))!.generation, 'nginx serves the new generation');
      assert.ok(!h.files.has(`/etc/nginx/${name}.conf.intent`), 'intent cleared once live');
      const intent = JSON.parse(h.files.get(`/etc/nginx/${name}.conf.intent.done`)!);
      assert.equal(intent.owner, 'dev@example.com');
      assert.equal(intent.pid, process.pid);
      assert.equal(intent.split, 25);
      assert.equal(intent.beforeSplit, '5.00');
      assert.deepEqual(
        intent.lbs.map((x: { name: string }) => x.name),
        ['a', 'b'],
      );
    }
    assert.deepEqual(
      applied.map((a) => [a.name, a.before?.split, a.after?.split, a.liveMs]),
      [
        ['a', 5, 25, 104],
        ['b', 5, 25, 104],
      ],
    );
    // The applied configuration is kept on the LB once live, and reads back.
    const kept = await readAppliedConfig(lbs[0], transportOf(lbs[0]));
    assert.equal(kept?.split, 25);
    assert.equal(kept?.generation, applied[0].generation);
    assert.equal(kept?.file, fileOf('a'));
    assert.deepEqual(kept?.config?.loadBalancers, lbs);
  });

  it('stages and tests on every LB before reloading any', async () => {
    const order: string[] = [];
    for (const [name, h] of hosts) h.during = (s) => order.push(`${name}:${s}`);
    await applySplit(cfg(), 50, transportOf);
    assert.deepEqual(order.slice(0, 2).sort(), ['a:stage', 'b:stage']);
    assert.deepEqual(order.slice(2).sort(), ['a:reload', 'b:reload']);
  });

  it('nginx -t fails on b: both LBs back on their file, none reloaded, nginx quoted', async () => {
    hosts.get('b')!.testCode = 1;
    const before = { a: fileOf('a'), b: fileOf('b') };
    await assert.rejects(applySplit(cfg(), 25, transportOf), (err: Error) => {
      assert.ok(err instanceof OperationError);
      assert.match(err.message, /load balancer "b" rejected the new file/);
      assert.match(err.message, /unknown directive "bogus"/);
      assert.match(err.message, /Every load balancer is back on its previous file/);
      return true;
    });
    assert.equal(fileOf('a'), before.a);
    assert.equal(fileOf('b'), before.b);
    for (const h of hosts.values()) {
      assert.deepEqual(h.calls, ['stage', 'reload'], 'the revert is one call, without reload');
      assert.ok(![...h.files.keys()].some((k) => k.endsWith('.intent')), 'intent cleared once reverted');
    }
  });

  it('a reload nginx ignores (error log [emerg]) is a failure: every LB reverted, reloaded, confirmed, log quoted', async () => {
    hosts.get('b')!.reloadResult = 'emerg';
    const served = hosts.get('a')!.served;
    await assert.rejects(applySplit(cfg(), 25, transportOf), (err: Error) => {
      assert.match(err.message, /load balancer "b" nginx did not take the new configuration at reload/);
      assert.match(err.message, /bind\(\) to 127\.0\.0\.1:29001 failed \(98: Address already in use\)/);
      assert.match(err.message, /back on its previous file/);
      return true;
    });
    assert.equal(hosts.get('a')!.served, served, 'a serves its previous generation again (confirmed)');
    assert.equal(parseHeader(fileOf('a'))!.split, 5);
    assert.deepEqual(hosts.get('a')!.calls, ['stage', 'reload', 'reload']);
  });

  it('a reload that never takes effect within the deadline is a failure and is reverted', async () => {
    hosts.get('a')!.reloadResult = 'timeout';
    await assert.rejects(applySplit(cfg(), 25, transportOf), /the reload did not take effect within 10000 ms \(the status endpoint/);
    assert.equal(parseHeader(fileOf('a'))!.split, 5);
  });

  for (const phase of ['stage', 'reload'] as const) {
    it(`an abort during ${phase === 'stage' ? 'nginx -t' : 'the reload'} reverts every LB and says "Cancelled, every load balancer is back on 5 %"`, async () => {
      const ac = new AbortController();
      hosts.get('a')!.during = (s) => s === phase && ac.abort();
      await assert.rejects(applySplit(cfg(), 25, transportOf, { signal: ac.signal }), (err: Error) => {
        assert.ok(err instanceof CancelledError, String(err));
        assert.equal(err.message, 'Cancelled, every load balancer is back on 5 %');
        return true;
      });
      for (const [name, h] of hosts) {
        assert.equal(parseHeader(fileOf(name))!.split, 5);
        assert.equal(parseHeader(h.files.get(`/etc/nginx/${name}.conf.confirmed`)!)!.split, 5, `${name}: previous generation confirmed`);
        assert.ok(!h.files.has(`/etc/nginx/${name}.conf.intent`));
      }
    });
  }

  it('an abort before the first call changes nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(applySplit(cfg(), 25, transportOf, { signal: ac.signal }), CancelledError);
    for (const h of hosts.values()) assert.deepEqual(h.calls, []);
  });

  it('reconcile: an unfinished intent of a dead owner puts every LB of that change back and confirms it', async () => {
    // Simulate a kill after a's reload and before b's: a serves 25 %, b has the new file only.
    hosts.get('b')!.reloadResult = 'timeout';
    let crashed = false;
    let armed = true;
    for (const h of hosts.values()) {
      const exec = h.exec.bind(h);
      h.exec = async (args, o) => {
        if (crashed) throw new Error('process gone');
        const r = await exec(args, o);
        if (armed && h === hosts.get('b') && /phar-rollout:reload/.test(args[2])) [crashed, armed] = [true, false];
        return r;
      };
    }
    await assert.rejects(applySplit(cfg(), 25, transportOf));
    crashed = false;
    for (const h of hosts.values()) h.calls.length = 0;
    const r = await reconcile(cfg(), transportOf, { ownerAlive: () => false });
    assert.equal(r.recovered.length, 1);
    assert.match(
      r.recovered[0].description,
      /recovered an interrupted change to 25 % .*every load balancer is back on 5 %, confirmed live/,
    );
    for (const [name, h] of hosts) {
      assert.equal(parseHeader(fileOf(name))!.split, 5, name);
      assert.equal(h.served, parseHeader(fileOf(name))!.generation, `${name} serves 5 % again`);
      assert.ok(!h.files.has(`/etc/nginx/${name}.conf.intent`));
      assert.deepEqual(h.calls, ['inspect', 'reload'], `${name}: inspect, then one recovery call`);
    }
    // Nothing left to do the second time.
    const again = await reconcile(cfg(), transportOf, { ownerAlive: () => false });
    assert.deepEqual(again, { recovered: [], busy: [] });
  });

  it('reconcile leaves a change alone while its owner runs', async () => {
    const h = hosts.get('a')!;
    h.files.set(
      '/etc/nginx/a.conf.intent',
      JSON.stringify({
        version: 1,
        op: 'x1',
        owner: 'o',
        pid: process.pid,
        host: os.hostname(),
        time: 't',
        lbs: [],
        beforeGeneration: '',
        beforeSplit: '',
        hadFile: 'had',
      }),
    );
    const r = await reconcile(cfg(), transportOf);
    assert.equal(r.busy.length, 1);
    assert.equal(r.recovered.length, 0);
  });

  it('reconcile: an intent from another host is stale only by its heartbeat age (LB clock)', async () => {
    const h = hosts.get('a')!;
    const intent = { version: 1, op: 'x2', owner: 'o', pid: 1, host: 'elsewhere.example', time: 't', lb: 'a', file: '/etc/nginx/a.conf' };
    h.files.set(
      '/etc/nginx/a.conf.intent',
      JSON.stringify({ ...intent, generation: null, split: 25, lbs: [], beforeGeneration: h.served, beforeSplit: '5.00', hadFile: 'had' }),
    );
    // The fake reports an age of 3 s.
    assert.equal((await reconcile(cfg(), transportOf)).busy.length, 1, 'fresh heartbeat: busy');
    const r = await reconcile(cfg(), transportOf, { staleMs: 1000 });
    assert.equal(r.recovered.length, 1);
    assert.deepEqual(
      r.recovered[0].loadBalancers.map((x) => [x.name, x.split]),
      [['a', 5]],
    );
    assert.ok(!h.files.has('/etc/nginx/a.conf.intent'));
  });

  it('readLive flags a file nginx does not serve, and repairLive puts the served file back without a reload', async () => {
    const h = hosts.get('a')!;
    const confirmed = fileOf('a');
    // The file says 50 %, nginx never reloaded it (killed during nginx -t).
    h.files.set('/etc/nginx/a.conf.prev', confirmed);
    h.files.set('/etc/nginx/a.conf', renderFor(config, lbs[0], 50, new Date(1)));
    const live = await readLive(lbs[0], h);
    assert.equal(live.split, 50);
    assert.equal(live.live?.split, 5);
    assert.equal(live.drift, 'file 50 %, nginx serves 5 %');
    // The header read keeps working for callers.
    assert.equal((await readSplit(lbs[0], h, { filesFor: () => ({ host: 'a', read: async () => fileOf('a') }) as never })).split, 50);
    h.calls.length = 0;
    const r = await repairLive(lbs[0], h);
    assert.ok(r.changed);
    assert.match(r.message, /50 % → 5 %.*traffic unchanged/);
    assert.equal(fileOf('a'), confirmed);
    assert.deepEqual(h.calls, ['inspect', 'reload']);
    assert.equal((await readLive(lbs[0], h)).drift, undefined);
  });

  it('derives nginx -T from the test command, and resolves its relative paths against -p', () => {
    assert.deepEqual(dumpSpec(['nginx', '-p', '/srv/lb', '-t', '-q']), ['nginx', '-p', '/srv/lb', '-T', '-q']);
    assert.equal(dumpSpec('sudo nginx -t'), 'sudo nginx -T');
    assert.equal(dumpSpec('sudo /usr/local/bin/check-nginx'), undefined);
    assert.equal(nginxPath('logs/nginx.pid', ['nginx', '-p', '/srv/lb', '-t']), '/srv/lb/logs/nginx.pid');
    assert.equal(nginxPath('/run/nginx.pid', 'sudo nginx -t'), '/run/nginx.pid');
    assert.equal(nginxPath('stderr', 'nginx -t'), undefined);
  });

  it('applyFiles refuses an empty list', async () => {
    await assert.rejects(applyFiles([]), /No load balancer is configured/);
  });
});
