/**
 * The CLI's own sandbox (`phar-rollout sandbox up|down`, from dist/cli.js) for the extension-host
 * and UI runners: 2 stable + 1 canary php backends and an nginx LB on loopback. `down` is safe on
 * every path: before `up`, after a failed `up`, and while `up` is still running (it stops that first).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './codeServer';

/** What `sandbox up --json` prints (the part the tests use). */
export interface SandboxInfo {
  project: string;
  lbUrl: string;
  backends: Array<{ name: string; group: 'stable' | 'canary'; url: string; pid?: number | null }>;
  artifact?: string;
}

const cliPath = path.join(repoRoot(), 'dist', 'cli.js');

/** Runs the CLI; resolves with its stdout, its stderr goes to `say` line by line. */
function cli(args: string[], timeoutMs: number, say: (line: string) => void, track?: (child: ChildProcess) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    track?.(child);
    let out = '';
    let errTail = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      errTail = (errTail + c).slice(-4000);
      for (const line of c.split('\n')) if (line.trim()) say(`  ${line}`);
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`phar-rollout ${args.join(' ')} ended with ${code ?? signal}${errTail ? `:\n${errTail}` : ''}`));
    });
  });
}

/** One sandbox in `dir` (created by `up`). */
export class CliSandbox {
  private upChild: ChildProcess | undefined;

  constructor(
    readonly dir: string,
    private readonly say: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  /** `sandbox up --json`: the backends and the LB are serving when it resolves. */
  async up(): Promise<SandboxInfo> {
    if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run compile`);
    const out = await cli(['sandbox', 'up', '--dir', this.dir, '--json'], 180000, this.say, (c) => (this.upChild = c));
    this.upChild = undefined;
    return JSON.parse(out) as SandboxInfo;
  }

  /** `sandbox down`; never throws (a failure is said). */
  async down(): Promise<void> {
    const up = this.upChild;
    if (up && up.exitCode === null && up.signalCode === null) {
      // Interrupted while coming up: let `sandbox up` stop first, so `down` sees all it started.
      const ended = new Promise<void>((resolve) => up.once('close', () => resolve()));
      up.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, 15000)))]);
      if (timer) clearTimeout(timer);
      if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
    }
    if (!fs.existsSync(this.dir)) return;
    try {
      const out = await cli(['sandbox', 'down', '--dir', this.dir], 60000, this.say);
      if (out.trim()) this.say(`sandbox down: ${out.trim()}`);
    } catch (err) {
      this.say(`sandbox down failed: ${(err as Error).message}`);
    }
  }
}
