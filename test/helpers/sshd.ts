/**
 * A real OpenSSH server on a loopback port, for tests.
 *
 *   const sshd = await startSshd();            // skips nothing itself: check sshdAvailable() first
 *   new SshTransport(sshd.destination, { sshArgs: sshd.sshArgs });
 *   after(() => sshd.stop());
 *
 * Fresh host and user keys (ssh-keygen) in a temp dir; the client gets a config file (`-F`)
 * with that key, BatchMode, and host key checking ON against a known_hosts holding
 * `[127.0.0.1]:PORT <host key>`. The server runs in the foreground (-D) as our child.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/core/exec/process';
import { waitFor } from './wait';
import { freePort } from '../../src/core/net/freePort';

export const SSHD = '/usr/sbin/sshd';

export interface SshServer {
  port: number;
  /** user@127.0.0.1 (the current user). */
  destination: string;
  /** Pass as SshOptions.sshArgs: `-F <client config>` (key, port, known_hosts, checking on). */
  sshArgs: string[];
  dir: string;
  knownHosts: string;
  identity: string;
  /** sshd's log (-E). */
  log: string;
  /** The listening sshd's pid. */
  pid: number;
  /** Kills every process under the listener (each connection, its sessions and commands): a cut network. The server keeps listening. */
  cutConnections(): Promise<number>;
  /** Stops the server and its connection processes; waits until they are gone. */
  stop(): Promise<void>;
}

/** True when the OpenSSH server and ssh-keygen are installed. */
export function sshdAvailable(): boolean {
  return existsSync(SSHD) && ['/usr/bin/ssh-keygen', '/usr/bin/ssh'].every(existsSync);
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every process below `pid` (children first found, then theirs). */
function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (let frontier = [pid]; frontier.length;) {
    frontier = frontier.flatMap(childrenOf);
    out.push(...frontier);
  }
  return out;
}

function killAll(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts sshd. `cleanHome` (default true) gives remote sessions an empty HOME: bash run by sshd
 * sources ~/.bashrc for every command, and a heavy one (pyenv init: ~150 ms here) would swamp
 * what the tests and the bench measure. Pass false to keep the user's real shell start-up.
 */
export async function startSshd(o: { cleanHome?: boolean } = {}): Promise<SshServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-sshd-'));
  const home = path.join(dir, 'home');
  await fs.mkdir(home);
  const port = await freePort();
  const hostKey = path.join(dir, 'host_ed25519');
  const identity = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rollout-test-host', '-f', hostKey]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rollout-test-user', '-f', identity]);
  const authorized = path.join(dir, 'authorized_keys');
  await fs.copyFile(`${identity}.pub`, authorized);
  const knownHosts = path.join(dir, 'known_hosts');
  const hostPub = (await fs.readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await fs.writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  const config = path.join(dir, 'sshd_config');
  const pidFile = path.join(dir, 'sshd.pid');
  await fs.writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${pidFile}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      // Many multiplexed sessions at once (deploys in parallel) over one connection.
      'MaxSessions 100',
      ...(o.cleanHome === false ? [] : [`SetEnv HOME=${home}`]),
      'MaxStartups 100',
      '',
    ].join('\n'),
  );
  const clientConfig = path.join(dir, 'ssh_config');
  await fs.writeFile(
    clientConfig,
    [
      'Host *',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  IdentityFile ${identity}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  await fs.mkdir('/run/sshd', { recursive: true }); // privilege separation dir
  const log = path.join(dir, 'sshd.log');
  const child: ChildProcess = spawn(SSHD, ['-D', '-f', config, '-E', log], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const stop = async () => {
    if (!running) return;
    killAll(descendantsOf(child.pid!));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (running) {
      child.kill('SIGKILL');
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('sshd to listen', async () => running && (await canConnect(port)), 10000);
  } catch (err) {
    const text = await fs.readFile(log, 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(err as Error).message}\n${text}`, { cause: err });
  }
  return {
    port,
    destination: `${os.userInfo().username}@127.0.0.1`,
    sshArgs: ['-F', clientConfig],
    dir,
    knownHosts,
    identity,
    log,
    pid: child.pid!,
    cutConnections: async () => {
      // The whole tree: monitor, session process and the remote commands themselves.
      const all = descendantsOf(child.pid!);
      killAll(all);
      return all.length;
    },
    stop,
  };
}
