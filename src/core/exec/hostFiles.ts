import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OperationError } from '../errors';
import { LocalTransport } from './localTransport';
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
  /**
   * mkdir (atomic) `dir` (its parent too with `makeParent`), then writes the host's clock into
   * `dir/heartbeat` and `owner` into `dir/owner.json`. When `dir` exists, reports it as readLock does.
   */
  createLock(dir: string, owner: string, options?: { makeParent?: boolean; signal?: AbortSignal }): Promise<LockProbe>;
  /**
   * The lock's owner text and its age since the last heartbeat, both times read from the host's
   * own clock in the same step; undefined when there is no lock.
   */
  readLock(dir: string, signal?: AbortSignal): Promise<LockRead | undefined>;
  /**
   * Removes the lock if its owner file holds `token` (or always, with token undefined).
   * Moves it aside first (rename: one remover wins) and puts it back if the token is not there.
   */
  removeLock(dir: string, token: string | undefined): Promise<boolean>;
  /** Sets the lock's age back to 0 with the host's clock (a heartbeat), if the lock still holds `token`. */
  touchLock(dir: string, token?: string): Promise<void>;
}

/** A lock as found on its host. */
export interface LockRead {
  /** owner.json as written ("" while the holder has not written it yet). */
  owner: string;
  /** Host's now minus the last heartbeat, on the host's clock (never negative). */
  ageMs: number;
  /** The last heartbeat (ISO), on the host's clock. */
  heartbeat: string;
}

export type LockProbe = { created: true } | ({ created: false } & LockRead);

/** Files inside a lock directory. */
const OWNER_FILE = 'owner.json';
const HEARTBEAT_FILE = 'heartbeat';

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

  async createLock(dir: string, owner: string, options: { makeParent?: boolean } = {}): Promise<LockProbe> {
    if (options.makeParent) await fs.mkdir(path.dirname(dir), { recursive: true });
    try {
      await fs.mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new OperationError(`cannot create ${dir}: ${(err as Error).message}`, { step: 'lock', file: dir });
      const held = await this.readLock(dir);
      if (!held) return this.createLock(dir, owner, options); // released in between
      return { created: false, ...held };
    }
    await fs.writeFile(`${dir}/${HEARTBEAT_FILE}`, `${Math.floor(Date.now() / 1000)}\n`);
    await fs.writeFile(`${dir}/${OWNER_FILE}`, owner);
    return { created: true };
  }

  async readLock(dir: string): Promise<LockRead | undefined> {
    try {
      const st = await fs.stat(dir);
      const owner = await fs.readFile(`${dir}/${OWNER_FILE}`, 'utf8').catch(() => '');
      const beat = await fs.readFile(`${dir}/${HEARTBEAT_FILE}`, 'utf8').catch(() => '');
      // A lock without a heartbeat (an older version's, or one being made) is as old as its directory.
      const at = /^\d+\s*$/.test(beat) ? Number(beat) * 1000 : st.mtimeMs;
      return lockRead(owner, Date.now(), at);
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
      const owner = await fs.readFile(`${aside}/${OWNER_FILE}`, 'utf8').catch(() => '');
      if (!owner.includes(token)) {
        await fs.rename(aside, dir).catch(() => undefined);
        return false;
      }
    }
    await fs.rm(aside, { recursive: true, force: true });
    return true;
  }

  async touchLock(dir: string, token?: string): Promise<void> {
    try {
      if (token !== undefined && !(await fs.readFile(`${dir}/${OWNER_FILE}`, 'utf8')).includes(token)) return;
      const tmp = `${dir}/${HEARTBEAT_FILE}.${process.pid}`;
      await fs.writeFile(tmp, `${Math.floor(Date.now() / 1000)}\n`);
      await fs.rename(tmp, `${dir}/${HEARTBEAT_FILE}`);
    } catch {
      // gone or taken over: the next acquire or release finds out
    }
  }
}

/** ageMs from the host's now and heartbeat (ms): a heartbeat "in the future" counts as fresh. */
function lockRead(owner: string, nowMs: number, beatMs: number): LockRead {
  return { owner: owner.trim(), ageMs: Math.max(0, nowMs - beatMs), heartbeat: new Date(beatMs).toISOString() };
}

// Each script takes its paths as "$1", "$2": the transport quotes them with shellCommand.
const READ = 'if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi';
const WRITE_NEW = 'if [ -e "$1" ]; then cp -p -- "$1" "$1.new" || exit 1; fi; cat > "$1.new"';
const SWAP = 'if [ -e "$1" ]; then cp -p -- "$1" "$1.prev" || exit 1; echo had; fi; mv -f -- "$1.new" "$1"';
const RESTORE = 'if [ "$2" = had ]; then mv -f -- "$1.prev" "$1"; else rm -f -- "$1"; fi';
// A lock's answer: the host's clock and the last heartbeat (its own clock too, so no clock of
// ours is compared with it), then owner.json. A lock without a heartbeat file is dated by its
// directory (GNU stat, else BSD stat). $1 is the lock directory. The shared rollout store reads it too.
export const LOCK_ANSWER = `now=$(date +%s); hb=$(cat -- "$1/${HEARTBEAT_FILE}" 2>/dev/null)
case "$hb" in ''|*[!0-9]*) hb=$(stat -c %Y -- "$1" 2>/dev/null || stat -f %m -- "$1" 2>/dev/null || echo "$now");; esac
printf 'now %s\\nheartbeat %s\\n' "$now" "$hb"; cat -- "$1/${OWNER_FILE}" 2>/dev/null`;
// $1 lock dir, $2 its parent or "" (made when given). Exit 3: held, with the answer.
const LOCK = `[ -z "$2" ] || mkdir -p -- "$2" || exit 1
if mkdir -- "$1" 2>/dev/null; then date +%s > "$1/${HEARTBEAT_FILE}"; cat > "$1/${OWNER_FILE}"; exit 0; fi
[ -d "$1" ] || { echo "cannot create $1" >&2; exit 1; }
${LOCK_ANSWER}; exit 3`;
const READ_LOCK = `[ -d "$1" ] || exit 3
${LOCK_ANSWER}; exit 0`;
// Moves the lock aside (rename: one remover wins), checks the token ($3), then deletes it; a lock
// that is not the one meant goes back unless a new one took its place. No GNU-only mv -T.
const REMOVE_LOCK = `[ -d "$1" ] && [ ! -e "$2" ] || exit 4
mv -- "$1" "$2" 2>/dev/null || exit 4
if [ -n "$3" ] && ! grep -qF -- "$3" "$2/${OWNER_FILE}" 2>/dev/null; then [ -e "$1" ] || mv -- "$2" "$1" 2>/dev/null; exit 5; fi
rm -rf -- "$2"`;
// Heartbeat with the host's clock, only into a lock that still holds our token ($2).
const TOUCH_LOCK = `[ -d "$1" ] || exit 3
[ -z "$2" ] || grep -qF -- "$2" "$1/${OWNER_FILE}" 2>/dev/null || exit 5
date +%s > "$1/${HEARTBEAT_FILE}.$$" && mv -f -- "$1/${HEARTBEAT_FILE}.$$" "$1/${HEARTBEAT_FILE}"`;

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

  async createLock(dir: string, owner: string, options: { makeParent?: boolean; signal?: AbortSignal } = {}): Promise<LockProbe> {
    const r = await this.sh(LOCK, [dir, options.makeParent ? path.posix.dirname(dir) : ''], { input: owner, signal: options.signal });
    if (r.code === 0) return { created: true };
    if (r.code !== 3) this.fail(`creating ${dir}`, r);
    return { created: false, ...parseLockAnswer(r.stdout) };
  }

  async readLock(dir: string, signal?: AbortSignal): Promise<LockRead | undefined> {
    const r = await this.sh(READ_LOCK, [dir], { signal });
    if (r.code === 3) return undefined;
    if (r.code !== 0) this.fail(`reading ${dir}`, r);
    return parseLockAnswer(r.stdout);
  }

  async removeLock(dir: string, token: string | undefined): Promise<boolean> {
    const aside = `${dir}.gone.${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}.${process.pid}.${Date.now()}`;
    const r = await this.sh(REMOVE_LOCK, [dir, aside, token ?? '']);
    return r.code === 0;
  }

  async touchLock(dir: string, token?: string): Promise<void> {
    await this.sh(TOUCH_LOCK, [dir, token ?? '']).catch(() => undefined);
  }
}

/** Reads LOCK_ANSWER's output (the host's clock, the heartbeat, then owner.json). */
export function parseLockAnswer(stdout: string): LockRead {
  const [nowLine = '', beatLine = '', ...rest] = stdout.split('\n');
  const now = Number(/^now (\d+)/.exec(nowLine)?.[1] ?? 0);
  const beat = Number(/^heartbeat (\d+)/.exec(beatLine)?.[1] ?? now);
  return lockRead(rest.join('\n'), now * 1000, beat * 1000);
}

/** HostFiles for a target: fs for this machine, scripts through the transport for an ssh host. */
export function hostFilesFor(target: { ssh?: string }, transport: Transport): HostFiles {
  return target.ssh ? new RemoteHostFiles(transport) : new LocalHostFiles();
}

/** HostFiles on the host a transport reaches: fs for the local transport, scripts otherwise. */
export function hostFilesOn(transport: Transport): HostFiles {
  return transport instanceof LocalTransport ? new LocalHostFiles() : new RemoteHostFiles(transport);
}
