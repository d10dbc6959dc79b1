/**
 * Traffic benchmark: what Phar Rollout adds on top of nginx itself, measured in one run against
 * baselines run by hand in the same lab (real nginx and php on loopback).
 *
 *   npx tsc -p tsconfig.test.json && node out/bench/traffic.js [rounds=15]
 *
 * 1. split change on one LB, command to live: `ramp` (lock, read the live split, render, stage,
 *    swap, nginx -t, reload, history, state) against writing the file and running
 *    `nginx -t && nginx -s reload` by hand. "Live" = the nginx master runs the new configuration's
 *    worker (read from /proc every ms: measuring puts no load on the box).       goal ≤ 1.5×
 * 2. five LBs against one: the same ramp, until all five are live.                goal ≤ 2×
 * 3. rollback to 0 % under load (4 clients, fresh connections), command to the last canary answer,
 *    against one hand-run test + reload.                                           goal ≤ 1.5×
 *
 * 4. ssh LB (loopback sshd): a split change confirmed live (applySplit's return) against writing the
 *    file and running `nginx -t && nginx -s reload` by hand over the same ssh, then waiting until the
 *    last old-generation answer (4 clients, fresh connections); plus the ssh round trips per change,
 *    counted with a logging ssh wrapper (a count, not a time).                    goal ≤ 1.5×, ≤ 2 trips
 *    Then one deploy to an ssh backend, its ssh invocations counted the same way.  goal ≤ 4 trips
 *
 *   node out/bench/traffic.js 15 ssh     # only case 4
 *
 * Prints medians and ratios; the goals are reported, not enforced (not a CI gate).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import { LocalTransport } from '../src/core/exec/localTransport';
import { ramp } from '../src/core/rollout/ramp';
import { rollback } from '../src/core/rollout/rollback';
import { applySplit, renderFor } from '../src/core/traffic/apply';
import { TransportPool } from '../src/core/exec/transportFor';
import { deployArtifact } from '../src/core/backends/deployBackends';
import { buildTestPhar } from '../test/helpers/phpBackend';
import { startSshd } from '../test/helpers/sshd';
import { loggingSsh, nginxByHand, nginxWorkers, startLab, waitReloaded } from './trafficLab';
import type { Lab } from './trafficLab';

const local = new LocalTransport();
const rounds = Number(process.argv[2] ?? 15);
const only = process.argv[3];
const USER = { user: 'bench@example.com' };

function get(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers['x-app-version'] as string | undefined));
    });
    req.on('error', () => resolve(undefined));
  });
}

/** Worker pids of an nginx master, read from /proc (no process spawned, so measuring costs nothing). */
async function workerPids(masterPid: number): Promise<string[]> {
  const text = await fs.readFile(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').catch(() => undefined);
  if (text !== undefined) return text.trim().split(/\s+/).filter(Boolean);
  // Kernels without CONFIG_PROC_CHILDREN: every /proc/<pid>/stat's ppid.
  const out: string[] = [];
  for (const e of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = await fs.readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    if (stat && stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(masterPid)) out.push(e);
  }
  return out;
}

/**
 * Resolves with ms (since `t0`) of the moment the nginx master `masterPid` runs a worker that was not
 * among `before`: the reloaded configuration is live (the new worker accepts; the old one is told to
 * stop accepting right after). Polled every millisecond from /proc, so measuring does not load the
 * 2-core box the way polling through the LB would.
 */
function newWorker(masterPid: number, before: readonly string[], t0: number, signal: { stop: boolean }): Promise<number> {
  return (async () => {
    const deadline = t0 + 10000;
    while (!signal.stop) {
      const now = await workerPids(masterPid);
      if (now.some((p) => !before.includes(p))) return performance.now() - t0;
      if (performance.now() > deadline) throw new Error(`nginx ${masterPid} did not reload`);
      await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error('stopped');
  })();
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** Waits until every LB of the lab finished its last reload (so a round starts from a quiet state). */
async function settle(lab: Lab, before: string[][]): Promise<void> {
  await Promise.all(lab.lbs.map((l, i) => waitReloaded(l.prefix, before[i])));
}

interface Timing {
  /** Call to the moment every LB answers with the new split. */
  live: number;
  /** Call to the call's return. */
  command: number;
}

/** Times one change to `split` (0 % or 100 %) on every LB of the lab. */
async function timeToLive(lab: Lab, split: 0 | 100, change: () => Promise<unknown>): Promise<Timing> {
  const before = await Promise.all(lab.lbs.map((l) => nginxWorkers(l.prefix)));
  const masters = await Promise.all(
    lab.lbs.map(async (l) => Number((await fs.readFile(path.join(l.prefix, 'logs', 'nginx.pid'), 'utf8')).trim())),
  );
  const signal = { stop: false };
  const t0 = performance.now();
  const live = Promise.all(masters.map((m, i) => newWorker(m, before[i], t0, signal)));
  await change();
  const command = performance.now() - t0;
  const times = await live;
  signal.stop = true;
  await settle(lab, before);
  return { live: Math.max(...times), command };
}

/** The hand-run baseline on every LB of the lab: write the file, nginx -t, nginx -s reload. */
async function byHand(lab: Lab, split: number): Promise<void> {
  await Promise.all(
    lab.config.loadBalancers.map(async (lb, i) => {
      await fs.writeFile(lb.file, renderFor(lab.config, lb, split, new Date()));
      await nginxByHand(lab.lbs[i].test);
      await nginxByHand(lab.lbs[i].reload);
    }),
  );
}

type Change = (split: 0 | 100) => Promise<unknown>;

/**
 * Runs the cases interleaved, one 100 % and one 0 % change of each per round, so that load from
 * anything else on the machine falls on all of them alike. Returns per case the medians.
 */
async function interleaved(cases: Array<{ lab: Lab; change: Change }>): Promise<Timing[]> {
  const times: Timing[][] = cases.map(() => []);
  for (let i = 0; i < rounds; i++) {
    for (const [k, c] of cases.entries()) {
      for (const split of [100, 0] as const) times[k].push(await timeToLive(c.lab, split, () => c.change(split)));
    }
  }
  return times.map((t) => ({ live: median(t.map((x) => x.live)), command: median(t.map((x) => x.command)) }));
}

/** Under load at 50 %: ms from the call to the last canary answer. */
async function lastCanary(lab: Lab, change: () => Promise<unknown>): Promise<number> {
  const before = await Promise.all(lab.lbs.map((l) => nginxWorkers(l.prefix)));
  await applySplit(lab.config, 50, () => local);
  await settle(lab, before);
  const url = `${lab.lbs[0].url}/`;
  let stop = false;
  let last = 0;
  let failures = 0;
  let t0 = 0;
  const client = async () => {
    while (!stop) {
      const v = await get(url);
      if (v === undefined) failures++;
      else if (v === lab.canaryVersion && t0) last = performance.now();
    }
  };
  const clients = Array.from({ length: 4 }, client);
  await new Promise((r) => setTimeout(r, 100));
  const before2 = await Promise.all(lab.lbs.map((l) => nginxWorkers(l.prefix)));
  t0 = performance.now();
  await change();
  await settle(lab, before2);
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await Promise.all(clients);
  if (failures) throw new Error(`${failures} requests failed during the rollback`);
  return last ? last - t0 : 0;
}

/**
 * Case 4: one LB over ssh. Returns medians (ms) of: ours (call → confirmed live return), by hand
 * (call → last old-generation answer), the last old answer seen after our return (must be none), and
 * the ssh invocations per change.
 */
async function sshCase(): Promise<{ ours: number; hand: number; oldAfterReturn: number; trips: number[]; deployTrips: number }> {
  const sshd = await startSshd();
  let lab: Lab | undefined;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-ssh-'));
  const logged = await loggingSsh(tmp);
  const pool = new TransportPool({ sshArgs: sshd.sshArgs, sshPath: logged.sshPath });
  try {
    const artifacts = {
      stable: await buildTestPhar({ dir: path.join(tmp, 'artifacts'), version: '1.0.0' }),
      canary: await buildTestPhar({ dir: path.join(tmp, 'artifacts'), version: '2.0.0' }),
    };
    lab = await startLab({ lbOverrides: { 0: { ssh: sshd.destination } }, artifacts });
    const l = lab;
    const lb = l.config.loadBalancers[0];
    const t = pool.get(lb);
    await t.exec(['true']);
    const url = `${l.lbs[0].url}/`;
    const answers: Array<{ at: number; v?: string }> = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const v = await get(url);
        answers.push({ at: performance.now(), v });
      }
    });
    const quiet = async () => {
      // Until 300 ms pass with only the new side answering: the last old answer is behind us.
      await new Promise((r) => setTimeout(r, 300));
    };
    const ours: number[] = [];
    const hand: number[] = [];
    const trips: number[] = [];
    let oldAfterReturn = 0;
    try {
      for (let i = 0; i < rounds * 2; i++) {
        const split = i % 2 === 0 ? 100 : 0;
        const want = split === 100 ? l.canaryVersion : l.stableVersion;
        // Ours: the call returns once nginx serves it.
        await logged.reset();
        let t0 = performance.now();
        await applySplit(l.config, split, () => t);
        const back = performance.now();
        trips.push(await logged.count());
        ours.push(back - t0);
        await quiet();
        oldAfterReturn += answers.filter((a) => a.at > back && a.v !== want).length;
        // By hand, over the same ssh: write the file, nginx -t && nginx -s reload, then until the last old answer.
        const other = split === 100 ? 0 : 100;
        const text = renderFor(l.config, lb, other, new Date());
        const wantHand = other === 100 ? l.canaryVersion : l.stableVersion;
        t0 = performance.now();
        // -p PREFIX -c conf/nginx.conf of the lab's nginx
        const where = l.lbs[0].test.slice(1, 5);
        const byHandScript = 'cat > "$1" && shift && nginx "$@" -t -q && nginx "$@" -s reload';
        await t.exec(['sh', '-c', byHandScript, 'sh', lb.file, ...where], { input: text });
        await quiet();
        const last = answers.filter((a) => a.at > t0 && a.v !== wantHand).pop();
        hand.push((last?.at ?? performance.now()) - t0);
        // Back to the state ours expects next (and a confirmed file).
        await applySplit(l.config, other, () => t);
        await quiet();
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    // A deploy to one ssh backend (the lab's canary reached through the same sshd; no drain, so the
    // LB is not touched): its ssh invocations, counted the same way.
    const canary = l.config.backends.find((b) => b.group === 'canary')!;
    const remote = { ...canary, ssh: sshd.destination, drain: false };
    const config = { ...l.config, backends: l.config.backends.map((b) => (b.name === canary.name ? remote : b)) };
    await logged.reset();
    const { results } = await deployArtifact({ config, artifact: artifacts.stable, backends: [remote], transports: pool });
    if (!results.every((r) => r.ok)) throw new Error(`bench deploy failed: ${JSON.stringify(results)}`);
    const deployTrips = await logged.count();
    return { ours: median(ours), hand: median(hand), oldAfterReturn, trips, deployTrips };
  } finally {
    await pool.dispose();
    await lab?.stop();
    await sshd.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ssh = await sshCase();
  console.log(`ssh LB, ${rounds * 2} split changes each: ssh invocations per change ${[...new Set(ssh.trips)].join('/')} (goal ≤ 2)`);
  console.log(['case', 'ours', 'baseline', 'ratio', 'goal'].join(' | '));
  console.log(
    [
      'ssh LB: split change confirmed live vs nginx -t && reload by hand + wait for the last old answer',
      fmt(ssh.ours),
      fmt(ssh.hand),
      (ssh.ours / ssh.hand).toFixed(2) + '×',
      '≤ 1.5×',
    ].join(' | '),
  );
  console.log(`  old-side answers to requests after our return: ${ssh.oldAfterReturn}`);
  console.log(`ssh backend: ssh invocations of one deploy ${ssh.deployTrips} (goal ≤ 4)`);
  if (only === 'ssh') return;
  const one = await startLab();
  let five: Lab | undefined;
  try {
    five = await startLab({ lbs: 5 });
    const lab5 = five;
    const ours =
      (lab: Lab): Change =>
      (split) =>
        ramp(lab.config, { percent: split }, { ...USER, gate: false });
    const hand =
      (lab: Lab): Change =>
      (split) =>
        byHand(lab, split);
    // Warm up nginx, php and the code paths, then measure.
    await interleaved([
      { lab: one, change: ours(one) },
      { lab: lab5, change: ours(lab5) },
    ]);
    const [hand1, ramp1, ramp5, hand5] = await interleaved([
      { lab: one, change: hand(one) },
      { lab: one, change: ours(one) },
      { lab: lab5, change: ours(lab5) },
      { lab: lab5, change: hand(lab5) },
    ]);

    const handRollback: number[] = [];
    const ourRollback: number[] = [];
    for (let i = 0; i < rounds; i++) {
      handRollback.push(await lastCanary(one, () => byHand(one, 0)));
      ourRollback.push(await lastCanary(one, () => rollback(one.config, { speed: 'traffic' }, USER)));
    }
    const hr = median(handRollback);
    const or = median(ourRollback);

    const row = (name: string, ours: number, base: number, goal: string): [string, string, string, string, string] => [
      name,
      fmt(ours),
      fmt(base),
      (ours / base).toFixed(2) + '×',
      goal,
    ];
    const rows = [
      row('split change, 1 LB, command to live: ramp vs nginx -t && reload by hand', ramp1.live, hand1.live, '≤ 1.5×'),
      row('  same, until the command returns', ramp1.command, hand1.command, ''),
      row('5 LBs vs 1 LB, ramp, command to all live', ramp5.live, ramp1.live, '≤ 2×'),
      row('  same, until the command returns', ramp5.command, ramp1.command, ''),
      row('  reference: 5 LBs vs 1 LB by hand, to all live', hand5.live, hand1.live, ''),
      row('  reference: 5 LBs, ramp vs by hand, to all live', ramp5.live, hand5.live, ''),
      row('rollback to 0 % under load, command to last canary answer', or, hr, '≤ 1.5×'),
    ];
    const nginxVersion = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim();
    console.log(`traffic bench: medians of ${rounds * 2} split changes / ${rounds} rollbacks; ${nginxVersion}; ${os.cpus().length} cores`);
    console.log(['case', 'ours', 'baseline', 'ratio', 'goal'].join(' | '));
    for (const r of rows) console.log(r.join(' | '));
  } finally {
    await five?.stop();
    await one.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
