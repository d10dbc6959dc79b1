import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { OperationError } from '../errors';
import type { Transport } from './transport';

/**
 * File operations on the host of a load balancer. A local LB uses node's fs (no process per step:
 * a split change costs little more than nginx's own test and reload); a remote LB uses short fixed
 * `sh -c` scripts through its transport, with the paths passed as arguments ($1, $2), never
 * spliced into the script.
 */
export interface HostFiles {
  readonly host: string;
  /** The file's text, or undefined when it does not exist. */
  read(file: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Writes `<file>.new` (with the live file's mode when there is one). */
  writeNew(file: string, text: string, signal?: AbortSignal): Promise<void>;
  /** Copies the live file to `<file>.prev` (when there is one) and renames `<file>.new` over it. */
  swapIn(file: string): Promise<{ hadPrevious: boolean }>;
  /** Undoes swapIn: `<file>.prev` back over the file, or removes the file when there was none. */
  restore(file: string, hadPrevious: boolean): Promise<void>;
  /** Removes a leftover `<file>.new`; never throws. */
  discardNew(file: string): Promise<void>;
  /** mkdir (atomic) `dir`, then writes `owner` into `dir/owner.json`. */
  createLock(dir: string, owner: string): Promise<LockProbe>;
  /** The lock's owner text and age, or undefined when there is no lock. */
  readLock(dir: string): Promise<{ ageMs: number; owner: string } | undefined>;
  /**
   * Removes the lock if its owner file holds `token` (or always, with token undefined).
   * Moves it aside first (rename: one remover wins) and puts it back if the token is not there.
   */
  removeLock(dir: string, token: string | undefined): Promise<boolean>;
  /** Sets the lock's age back to 0 (a heartbeat while a long operation holds it). */
  touchLock(dir: string): Promise<void>;
}

export type LockProbe = { created: true } | { created: false; ageMs: number; owner: string };

const enoent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** HostFiles on this machine through node's fs. */
export class LocalHostFiles implements HostFiles {
  readonly host = 'local';

  async read(file: string): Promise<string | undefined> {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (err) {
      if (enoent(err)) return undefined;
      throw new OperationError(`cannot read ${file}: ${(err as Error).message}`, { step: 'read', file });
    }
  }

  async writeNew(file: string, text: string): Promise<void> {
    let mode: number | undefined;
    try {
      mode = (await fs.stat(file)).mode & 0o7777;
    } catch (err) {
      if (!enoent(err)) throw err;
    }
    await fs.writeFile(`${file}.new`, text, mode === undefined ? {} : { mode });
    if (mode !== undefined) await fs.chmod(`${file}.new`, mode);
  }

  async swapIn(file: string): Promise<{ hadPrevious: boolean }> {
    let hadPrevious = true;
    try {
      await fs.copyFile(file, `${file}.prev`);
    } catch (err) {
      if (!enoent(err)) throw err;
      hadPrevious = false;
    }
    await fs.rename(`${file}.new`, file);
    return { hadPrevious };
  }

  async restore(file: string, hadPrevious: boolean): Promise<void> {
    if (hadPrevious) await fs.rename(`${file}.prev`, file);
    else await fs.rm(file, { force: true });
  }

  async discardNew(file: string): Promise<void> {
    await fs.rm(`${file}.new`, { force: true }).catch(() => undefined);
  }

  async createLock(dir: string, owner: string): Promise<LockProbe> {
    try {
      await fs.mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new OperationError(`cannot create ${dir}: ${(err as Error).message}`, { step: 'lock', file: dir });
      const held = await this.readLock(dir);
      if (!held) return this.createLock(dir, owner); // released in between
      return { created: false, ...held };
    }
    await fs.writeFile(`${dir}/owner.json`, owner);
    return { created: true };
  }

  async readLock(dir: string): Promise<{ ageMs: number; owner: string } | undefined> {
    try {
      const st = await fs.stat(dir);
      const owner = await fs.readFile(`${dir}/owner.json`, 'utf8').catch(() => '');
      return { ageMs: Date.now() - st.mtimeMs, owner };
    } catch (err) {
      if (enoent(err)) return undefined;
      throw err;
    }
  }

  async removeLock(dir: string, token: string | undefined): Promise<boolean> {
    const aside = `${dir}.gone.${process.pid}.${Date.now()}`;
    try {
      await fs.rename(dir, aside);
    } catch (err) {
      if (enoent(err)) return false;
      throw err;
    }
    if (token !== undefined) {
      const owner = await fs.readFile(`${aside}/owner.json`, 'utf8').catch(() => '');
      if (!owner.includes(token)) {
        await fs.rename(aside, dir).catch(() => undefined);
        return false;
      }
    }
    await fs.rm(aside, { recursive: true, force: true });
    return true;
  }

  async touchLock(dir: string): Promise<void> {
    const now = new Date();
    await fs.utimes(dir, now, now).catch(() => undefined);
  }
}

// Each script takes its paths as "$1", "$2": the transport quotes them with shellCommand.
const READ = 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi';
const WRITE_NEW = 'if [ -e "$1" ]; then cp -p -- "$1" "$1.new" || exit 1; fi; cat > "$1.new"';
const SWAP = 'if [ -e "$1" ]; then cp -p -- "$1" "$1.prev" || exit 1; echo had; fi; mv -f -- "$1.new" "$1"';
const RESTORE = 'if [ "$2" = had ]; then mv -f -- "$1.prev" "$1"; else rm -f -- "$1"; fi';
const LOCK = `if mkdir -- "$1" 2>/dev/null; then cat > "$1/owner.json"; exit 0; fi
[ -d "$1" ] || { echo "cannot create $1" >&2; exit 1; }
now=$(date +%s); m=$(stat -c %Y -- "$1" 2>/dev/null || echo "$now")
printf 'age %s\\n' "$((now - m))"; cat -- "$1/owner.json" 2>/dev/null; exit 3`;
const READ_LOCK = `[ -d "$1" ] || exit 3
now=$(date +%s); m=$(stat -c %Y -- "$1" 2>/dev/null || echo "$now")
printf 'age %s\\n' "$((now - m))"; cat -- "$1/owner.json" 2>/dev/null; exit 0`;
const REMOVE_LOCK = `mv -T -- "$1" "$2" 2>/dev/null || exit 4
if [ -n "$3" ] && ! grep -qF -- "$3" "$2/owner.json" 2>/dev/null; then mv -T -- "$2" "$1" 2>/dev/null; exit 5; fi
rm -rf -- "$2"`;

/** HostFiles on another host through its transport (ssh). */
export class RemoteHostFiles implements HostFiles {
  constructor(private readonly t: Transport) {}

  get host(): string {
    return this.t.host;
  }

  private async sh(script: string, args: string[], options: { input?: string; signal?: AbortSignal } = {}) {
    return this.t.exec(['sh', '-c', script, 'sh', ...args], { ...options, allowFailure: true, timeoutMs: 30000 });
  }

  private fail(what: string, r: { code: number | null; stderr: string }): never {
    throw new OperationError(`${what} on ${this.t.host} failed: ${r.stderr.trim() || `exit ${r.code}`}`, {
      step: 'file',
      host: this.t.host,
    });
  }

  async read(file: string, signal?: AbortSignal): Promise<string | undefined> {
    const r = await this.sh(READ, [file], { signal });
    if (r.code === 3) return undefined;
    if (r.code !== 0) this.fail(`reading ${file}`, r);
    return r.stdout;
  }

  async writeNew(file: string, text: string, signal?: AbortSignal): Promise<void> {
    const r = await this.sh(WRITE_NEW, [file], { input: text, signal });
    if (r.code !== 0) this.fail(`writing ${file}.new`, r);
  }

  async swapIn(file: string): Promise<{ hadPrevious: boolean }> {
    const r = await this.sh(SWAP, [file]);
    if (r.code !== 0) this.fail(`moving ${file}.new into place`, r);
    return { hadPrevious: r.stdout.trim() === 'had' };
  }

  async restore(file: string, hadPrevious: boolean): Promise<void> {
    const r = await this.sh(RESTORE, [file, hadPrevious ? 'had' : 'none']);
    if (r.code !== 0) this.fail(`restoring ${file}`, r);
  }

  async discardNew(file: string): Promise<void> {
    await this.t.exec(['rm', '-f', '--', `${file}.new`], { allowFailure: true, timeoutMs: 30000 }).catch(() => undefined);
  }

  async createLock(dir: string, owner: string): Promise<LockProbe> {
    const r = await this.sh(LOCK, [dir], { input: owner });
    if (r.code === 0) return { created: true };
    if (r.code !== 3) this.fail(`creating ${dir}`, r);
    return { created: false, ...parseLockAnswer(r.stdout) };
  }

  async readLock(dir: string): Promise<{ ageMs: number; owner: string } | undefined> {
    const r = await this.sh(READ_LOCK, [dir]);
    if (r.code === 3) return undefined;
    if (r.code !== 0) this.fail(`reading ${dir}`, r);
    return parseLockAnswer(r.stdout);
  }

  async removeLock(dir: string, token: string | undefined): Promise<boolean> {
    const aside = `${dir}.gone.${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}.${process.pid}.${Date.now()}`;
    const r = await this.sh(REMOVE_LOCK, [dir, aside, token ?? '']);
    return r.code === 0;
  }

  async touchLock(dir: string): Promise<void> {
    await this.t.exec(['touch', '-c', '--', dir], { allowFailure: true, timeoutMs: 30000 }).catch(() => undefined);
  }
}

function parseLockAnswer(stdout: string): { ageMs: number; owner: string } {
  const [ageLine, ...rest] = stdout.split('\n');
  const age = Number(/^age (-?\d+)/.exec(ageLine)?.[1] ?? 0);
  return { ageMs: Math.max(0, age) * 1000, owner: rest.join('\n').trim() };
}

/** HostFiles for a target: fs for this machine, scripts through the transport for an ssh host. */
export function hostFilesFor(target: { ssh?: string }, transport: Transport): HostFiles {
  return target.ssh ? new RemoteHostFiles(transport) : new LocalHostFiles();
}
