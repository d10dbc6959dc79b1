import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { TransportPool } from '../../src/core/exec/transportFor';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { LockedError } from '../../src/core/exec/hostLock';
import { acquireLock, readLock } from '../../src/core/rollout/lock';
import { ramp } from '../../src/core/rollout/ramp';
import { rollback } from '../../src/core/rollout/rollback';
import { readSplit } from '../../src/core/traffic/apply';
import { applySplit } from '../../src/core/traffic/apply';
import { readLive } from '../../src/core/traffic/live';
import * as http from 'node:http';
import * as path from 'node:path';
import { loggingSsh, nginxWorkers, startLab, waitReloaded } from '../../bench/trafficLab';
import type { Lab } from '../../bench/trafficLab';
import { sshdAvailable, startSshd } from '../helpers/sshd';
import type { SshServer } from '../helpers/sshd';
import { skipUnlessCi } from '../helpers/skip';

describe('traffic over ssh (an LB reached through a loopback OpenSSH server)', function () {
  this.timeout(120000);
  let sshd: SshServer | undefined;
  let lab: Lab | undefined;
  let pool: TransportPool;

  before(async function () {
    if (!sshdAvailable()) {
      skipUnlessCi(this, '/usr/sbin/sshd or ssh-keygen is not installed');
    }
    sshd = await startSshd();
    // lb-1 (the lock's home) over ssh, lb-2 local: one change spans both transports.
    lab = await startLab({ lbs: 2, lbOverrides: { 0: { ssh: sshd.destination } } });
    pool = new TransportPool({ sshArgs: sshd.sshArgs });
  });

  after(async () => {
    await pool?.dispose();
    await lab?.stop();
    await sshd?.stop();
  });

  it('ramps and rolls back both LBs, the lock living on the ssh host beside lb-1’s file', async () => {
    const l = lab!;
    const lb1 = l.config.loadBalancers[0];
    assert.equal(lb1.ssh, sshd!.destination);
    const before = await Promise.all(l.lbs.map((x) => nginxWorkers(x.prefix)));
    const r = await ramp(l.config, { percent: 25 }, { gate: false, user: 'ssh@example.com', transports: pool });
    assert.equal(r.after, 25);
    await Promise.all(l.lbs.map((x, i) => waitReloaded(x.prefix, before[i])));
    const seen = await readSplit(lb1, pool.get(lb1));
    assert.equal(seen.host, sshd!.destination);
    assert.equal(seen.split, 25);
    assert.equal((await fs.readFile(`${lb1.file}.prev`, 'utf8')).split('\n')[0].startsWith('# phar-rollout split=0.00 '), true);

    // A holder seen through ssh is named.
    const held = await acquireLock(l.config, (t) => pool.get(t), { operation: 'ramp to 50 %', user: 'carol@example.com' });
    try {
      assert.equal(held.where, `lb-1:${lb1.file}.lock`);
      assert.equal((await readLock(l.config, (t) => pool.get(t)))?.user, 'carol@example.com');
      await assert.rejects(
        ramp(l.config, { percent: 50 }, { gate: false, user: 'dave@example.com', transports: pool }),
        (err: Error) => err instanceof LockedError && /carol@example\.com/.test(err.message),
      );
    } finally {
      await held.release();
    }
    await rollback(l.config, { speed: 'traffic' }, { user: 'ssh@example.com', transports: pool });
    for (const lb of l.config.loadBalancers) assert.equal((await readSplit(lb, lb.ssh ? pool.get(lb) : new LocalTransport())).split, 0);
  });

  it('a failing nginx -t on the ssh LB puts both back', async () => {
    const l = lab!;
    const conf = l.lbs[0].confFile;
    const good = await fs.readFile(conf, 'utf8');
    await fs.writeFile(conf, good.replace('events {', 'bogus_over_ssh on;\nevents {'));
    try {
      await assert.rejects(
        ramp(l.config, { percent: 50 }, { gate: false, user: 'ssh@example.com', transports: pool }),
        /load balancer "lb-1" rejected the new file[\s\S]*bogus_over_ssh/,
      );
    } finally {
      await fs.writeFile(conf, good);
    }
    for (const lb of l.config.loadBalancers) {
      assert.equal((await readSplit(lb, lb.ssh ? pool.get(lb) : new LocalTransport())).split, 0);
      await assert.rejects(fs.stat(`${lb.file}.new`), /ENOENT/);
    }
  });

  it('a split change on the ssh LB costs 2 ssh round trips (logging ssh wrapper) and is live when it returns', async () => {
    const l = lab!;
    const logged = await loggingSsh(path.join(l.tmp, 'ssh-log'));
    const counted = new TransportPool({ sshArgs: sshd!.sshArgs, sshPath: logged.sshPath });
    try {
      const config = { ...l.config, loadBalancers: [l.config.loadBalancers[0]] };
      const lb = config.loadBalancers[0];
      await counted.get(lb).exec(['true']); // opens the master: a handshake, not a round trip of the change
      for (const split of [50, 0]) {
        await logged.reset();
        const [a] = await applySplit(config, split, (x) => counted.get(x));
        assert.equal(await logged.count(), 2, `split ${split}: ssh invocations`);
        const live = await readLive(lb, counted.get(lb));
        assert.equal(live.live?.generation, a.generation, 'nginx serves the generation applySplit returned');
        assert.equal(live.drift, undefined);
      }
    } finally {
      await counted.dispose();
    }
  });

  it('over ssh, 0 requests started after a split change returns reach the old side (20 trials, fresh connections)', async () => {
    const l = lab!;
    const config = { ...l.config, loadBalancers: [l.config.loadBalancers[0]] };
    const url = `${l.lbs[0].url}/`;
    const seen: Array<{ start: number; version?: string }> = [];
    let stop = false;
    const one = () =>
      new Promise<string | undefined>((resolve) => {
        const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['x-app-version'] as string | undefined));
        });
        req.on('error', () => resolve(undefined));
      });
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const start = performance.now();
        seen.push({ start, version: await one() });
      }
    });
    const trials: Array<{ begin: number; at: number; want: string }> = [];
    try {
      for (let i = 0; i < 20; i++) {
        const split = i % 2 === 0 ? 100 : 0;
        const begin = performance.now();
        await applySplit(config, split, (x) => pool.get(x));
        trials.push({ begin, at: performance.now(), want: split === 100 ? l.canaryVersion : l.stableVersion });
        const n = seen.length;
        while (seen.length < n + 20) await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const wrong: string[] = [];
    let checked = 0;
    trials.forEach((t, k) => {
      const end = trials[k + 1]?.begin ?? Infinity;
      for (const s of seen.filter((x) => x.start > t.at && x.start < end)) {
        checked++;
        if (s.version !== t.want) wrong.push(`trial ${k}: ${s.version ?? 'error'} instead of ${t.want}`);
      }
    });
    assert.deepEqual(wrong, []);
    assert.ok(checked > 100, `only ${checked} checked`);
  });
});
