/**
 * ssh benchmark: ten remote commands on one host through one multiplexed connection (what a deploy
 * does: connect once, then lock, upload, verify, switch… as sessions on the master) against ten
 * fresh ssh connections, measured in the same run against a real sshd on loopback.   goal ≤ 0.2×
 *
 *   npx tsc -p tsconfig.test.json && node out/bench/ssh.js [rounds=5]
 *
 * Two server setups:
 * - "clean shell": sessions get an empty HOME, so the remote login shell starts in ~1 ms (a
 *   server account for deploys).
 * - "your shell": sessions keep your HOME; bash run by sshd sources ~/.bashrc for every command,
 *   so a heavy one (pyenv init here) adds its start-up to every command, multiplexed or not.
 *
 * Prints medians and ratios; the goal is reported, not enforced (not a CI gate).
 */
import * as os from 'node:os';
import { SshTransport } from '../src/core/exec/sshTransport';
import { startSshd, sshdAvailable } from '../test/helpers/sshd';

const ROUNDS = Number(process.argv[2] ?? 5);
const COMMANDS = 10;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function tenCommands(destination: string, sshArgs: string[], multiplex: boolean): Promise<number> {
  const t = new SshTransport(destination, { sshArgs, multiplex });
  try {
    const t0 = performance.now();
    for (let i = 0; i < COMMANDS; i++) await t.exec(['test', '-d', '/']);
    return performance.now() - t0;
  } finally {
    await t.dispose(); // closing the master is not timed: ControlPersist closes it for free
  }
}

async function lab(label: string, cleanHome: boolean): Promise<void> {
  const sshd = await startSshd({ cleanHome });
  try {
    await tenCommands(sshd.destination, sshd.sshArgs, true); // warm-up
    const mux: number[] = [];
    const fresh: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      mux.push(await tenCommands(sshd.destination, sshd.sshArgs, true));
      fresh.push(await tenCommands(sshd.destination, sshd.sshArgs, false));
    }
    const ratio = median(mux) / median(fresh);
    console.log(
      `${label.padEnd(12)} ${COMMANDS} commands: multiplexed ${median(mux).toFixed(0)} ms (≈ one connect + ${((median(mux) - median(fresh) / COMMANDS) / (COMMANDS - 1)).toFixed(1)} ms per further command), ` +
        `fresh connections ${median(fresh).toFixed(0)} ms → ratio ${ratio.toFixed(2)}× (goal ≤ 0.2×) ${ratio <= 0.2 ? 'OK' : 'MISSED'}`,
    );
  } finally {
    await sshd.stop();
  }
}

async function main(): Promise<void> {
  if (!sshdAvailable()) {
    console.log('ssh bench skipped: /usr/sbin/sshd is not installed');
    return;
  }
  console.log(`ssh bench: ${ROUNDS} rounds, medians (${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)})`);
  await lab('clean shell', true);
  await lab('your shell', false);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
