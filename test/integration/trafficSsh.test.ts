import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { TransportPool } from '../../src/core/exec/transportFor';
import { LocalTransport } from '../../src/core/exec/localTransport';
import { LockedError } from '../../src/core/exec/hostLock';
import { acquireLock, readLock } from '../../src/core/rollout/lock';
import { ramp } from '../../src/core/rollout/ramp';
import { rollback } from '../../src/core/rollout/rollback';
import { readSplit } from '../../src/core/traffic/apply';
import { nginxWorkers, startLab, waitReloaded } from '../../bench/trafficLab';
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
});
