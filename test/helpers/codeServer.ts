/**
 * Starts code-server (a real VS Code 1.100 server with its web workbench) on a free loopback
 * port for the extension-host and UI tests, and stops it with its whole process tree.
 *
 * code-server is installed by scripts/installCodeServer.sh into a cache folder
 * ($PHAR_ROLLOUT_CACHE or <repo>/.cache/code-server).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface StartCodeServerOptions {
  /** Folder for installed (unpacked) extensions; an empty temporary one next to userDataDir when absent. */
  extensionDir?: string;
  /** VS Code's user data dir; created when missing. Its User/settings.json is written here. */
  userDataDir: string;
  /** The folder the workbench opens. */
  workspace: string;
  /** true (default): the workspace is trusted. false: workspace trust is on and the folder opens in Restricted Mode. */
  trust?: boolean;
  /** Extra environment for code-server and so for the extension host. */
  env?: NodeJS.ProcessEnv;
  /** Extra user settings, merged over the quiet defaults. */
  settings?: Record<string, unknown>;
  /** Called with every line code-server prints (they always go to `logFile` too). */
  onLine?: (line: string) => void;
  /** Deadline for "HTTP server listening" (default 60 s). */
  startTimeoutMs?: number;
}

export interface CodeServer {
  /** http://127.0.0.1:PORT/ */
  url: string;
  port: number;
  pid: number;
  /** Everything code-server printed. */
  logFile: string;
  /** Resolves with the exit code (or signal) when the code-server process ends. */
  exited: Promise<number | string>;
  /** Stops code-server and every process it started. Safe to call more than once. */
  stop(): Promise<void>;
}

/** The repository root (the folder with phar-rollout's package.json). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'phar-rollout') return dir;
      } catch {
        /* not ours; keep walking */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no phar-rollout package.json above ${__dirname}`);
    dir = parent;
  }
}

/** Path of code-server's out/node/entry.js in the cache; throws with the fix when it is missing. */
export function codeServerEntry(): string {
  const cache = process.env.PHAR_ROLLOUT_CACHE || path.join(repoRoot(), '.cache', 'code-server');
  const entry = path.join(cache, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  if (!fs.existsSync(entry)) {
    throw new Error(`code-server is not installed (${entry} is missing): run scripts/installCodeServer.sh`);
  }
  return entry;
}

/** Settings for a workbench without welcome pages, tips, telemetry, update checks or prompts. */
export function quietSettings(trust: boolean): Record<string, unknown> {
  return {
    'workbench.startupEditor': 'none',
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.editor.untitled.hint': 'hidden',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'update.showReleaseNotes': false,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'extensions.showRecommendationsOnlyOnDemand': true,
    'git.openRepositoryInParentFolders': 'never',
    'editor.accessibilitySupport': 'off',
    'chat.commandCenter.enabled': false,
    'chat.disableAIFeatures': true,
    'npm.fetchOnlinePackageInfo': false,
    'security.workspace.trust.enabled': !trust,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'never',
    'security.workspace.trust.untrustedFiles': 'open',
  };
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: whatever path the test process leaves by, no code-server stays behind.
  process.on('exit', () => {
    for (const child of running) if (child.pid) killTree(child.pid, 'SIGKILL');
  });
}

export async function startCodeServer(options: StartCodeServerOptions): Promise<CodeServer> {
  const entry = codeServerEntry();
  const trust = options.trust ?? true;
  const userDataDir = path.resolve(options.userDataDir);
  const extensionDir = path.resolve(options.extensionDir ?? path.join(path.dirname(userDataDir), 'code-server-extensions'));
  const workspace = path.resolve(options.workspace);
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionDir, { recursive: true });
  if (!fs.existsSync(workspace)) throw new Error(`workspace ${workspace} does not exist`);

  const settings = { ...quietSettings(trust), ...(options.settings ?? {}) };
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
  const configFile = path.join(userDataDir, 'config.yaml');
  fs.writeFileSync(configFile, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
  const logFile = path.join(userDataDir, 'code-server.log');
  const log = fs.createWriteStream(logFile, { flags: 'a' });

  const args = [
    entry,
    '--auth',
    'none',
    // Port 0: the kernel picks a free loopback port and code-server prints it; no race with other tests.
    '--bind-addr',
    '127.0.0.1:0',
    '--extensions-dir',
    extensionDir,
    '--user-data-dir',
    userDataDir,
    '--config',
    configFile,
    '--disable-telemetry',
    '--disable-update-check',
    '--ignore-last-opened',
    '--disable-getting-started-override',
    '--disable-file-downloads',
    ...(trust ? ['--disable-workspace-trust'] : []),
    workspace,
  ];

  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Variables of a VS Code that may have started us would confuse the server's CLI handling.
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE') continue;
    env[key] = value;
  }
  // No extension gallery: the machines reach no marketplace, and the workbench would log errors.
  env.EXTENSIONS_GALLERY = '{}';
  Object.assign(env, options.env ?? {});

  const child = spawn(process.execPath, args, {
    cwd: workspace,
    env,
    detached: true, // own process group, so stop() can signal the whole tree
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  installExitHook();

  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      running.delete(child);
      log.write(`spawn error: ${err.message}\n`);
      resolve(`error: ${err.message}`);
    });
  });

  const tail: string[] = [];
  let listeningUrl: string | undefined;
  let notifyListening: (() => void) | undefined;
  const onText = (stream: NodeJS.ReadableStream) => {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      log.write(chunk);
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        tail.push(line);
        if (tail.length > 40) tail.shift();
        const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+\/?)/.exec(line);
        if (m && !listeningUrl) {
          listeningUrl = m[1];
          notifyListening?.();
        }
        options.onLine?.(line);
      }
    });
  };
  onText(child.stdout!);
  onText(child.stderr!);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (!stopped) {
      stopped = (async () => {
        if (child.pid) await stopTree(child.pid, exited);
        running.delete(child);
        await new Promise<void>((resolve) => log.end(resolve));
      })();
    }
    return stopped;
  };

  const timeoutMs = options.startTimeoutMs ?? 60000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => {
        notifyListening = resolve;
        if (listeningUrl) resolve();
      }),
      exited.then((code) => {
        throw new Error(`code-server exited (${code}) before listening:\n${tail.join('\n')}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`code-server did not print "HTTP server listening" within ${timeoutMs} ms:\n${tail.join('\n')}`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }

  const url = listeningUrl!.endsWith('/') ? listeningUrl! : `${listeningUrl}/`;
  const port = Number(new URL(url).port);
  return { url, port, pid: child.pid!, logFile, exited, stop };
}

/**
 * The workbench URL for `folder`, with an optional `payload` (as VS Code's own browser
 * integration tests use it: extensionDevelopmentPath, extensionTestsPath, skipWelcome, …).
 * Local paths in the payload must already be vscode-remote URIs; see remoteUri().
 */
export function workbenchUrl(server: Pick<CodeServer, 'url'>, folder: string, payload?: Array<[string, string]>): string {
  const params = [`folder=${encodeURIComponent(remoteUri(server, folder))}`];
  if (payload) params.push(`payload=${encodeURIComponent(JSON.stringify(payload))}`);
  return `${server.url}?${params.join('&')}`;
}

/** vscode-remote://127.0.0.1:PORT/abs/path for a path on this machine. */
export function remoteUri(server: Pick<CodeServer, 'url'>, absPath: string): string {
  const host = new URL(server.url).host;
  const p = path.resolve(absPath).split(path.sep).map(encodeURIComponent).join('/');
  return `vscode-remote://${host}${p.startsWith('/') ? p : `/${p}`}`;
}

// ---- process tree -----------------------------------------------------------------------

interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), state: rest[0], ppid: Number(rest[1]), pgid: Number(rest[2]) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The live (non-zombie) processes of the tree under `root` and of its process group. */
function treeOf(root: number): number[] {
  const procs = readProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const found = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    if (found.has(pid)) continue;
    found.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  for (const p of procs) if (p.pgid === root) found.add(p.pid);
  const alive = new Set(procs.filter((p) => p.state !== 'Z' && p.state !== 'X').map((p) => p.pid));
  return [...found].filter((pid) => alive.has(pid));
}

function killTree(root: number, signal: NodeJS.Signals, known: number[] = []): number[] {
  const pids = [...new Set([...treeOf(root), ...known])];
  try {
    process.kill(-root, signal);
  } catch {
    /* group already gone */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function stopTree(root: number, exited: Promise<unknown>, graceMs = 5000): Promise<void> {
  // Remember the tree first: once the root is gone its children are re-parented.
  const pids = killTree(root, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const left = pids.filter(isAlive);
  if (left.length) killTree(root, 'SIGKILL', left);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
}
