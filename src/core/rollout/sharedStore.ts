/**
 * The team's rollout: state and history in a folder beside the rollout lock on the first load
 * balancer's host (`<lb.file>.rollout/`), so every checkout sees and changes the same rollout. Each
 * operation is one small `sh` script run through the host's Transport (a local LB: this machine),
 * its paths and texts passed as arguments (quoted by shellCommand), never spliced into the script:
 * a read (state + rollout lock + new history bytes) is one round trip, a state write (compare and
 * swap, with its history lines) one round trip. The checkout's `.rollout/` is a cache of it: the
 * state as last seen and a copy of the history, refreshed by every access, shown (marked) when the
 * host cannot be reached.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, OperationError, describeError, throwIfAborted } from '../errors';
import { LOCK_ANSWER, parseLockAnswer } from '../exec/hostFiles';
import type { LockRead } from '../exec/hostFiles';
import type { Transport } from '../exec/transport';
import type { Logger } from '../log';
import { nullLogger } from '../log';
import { ROLLOUT_DIR } from '../phar/artifact';
import { appendHistory, appendLine, completeEvent, historyPath, pendingHistoryPath } from './history';
import type { NewHistoryEvent } from './history';
import { lockLocation } from './lock';
import { StateFileError, parseState, readState, stateText, statePath, updateState, withLocalLock, writeState } from './state';
import type { RolloutStore, StoreRead } from './store';
import type { HistoryEvent, RolloutState } from './types';

/** The store's folder on the first LB's host, beside its lock (`<file>.lock`). */
export function sharedStoreDir(lbFile: string): string {
  return `${lbFile}.rollout`;
}

/** `.rollout/shared.json`: which store the cache copies, and how many bytes of its history it has. */
export function cacheMetaPath(projectDir: string): string {
  return path.join(projectDir, ROLLOUT_DIR, 'shared.json');
}

/** At most this many history bytes per answer (a first sync of a long history takes several). */
const HISTORY_CHUNK = 4 * 1024 * 1024;
/** A state write that keeps meeting another writer's change gives up after this many tries. */
const MAX_TRIES = 8;
/** Exit code of a write whose expected state was not there: the answer carries the current one. */
const CONFLICT = 9;

// Every script: $1 the store folder, $2 the answer's boundary (random per call: foreign text cannot
// fake a section). Sections are "\n--<boundary> <name> <fields>\n<bytes>"; the last is "end".
const SECTIONS = `d=$1; B=$2
sec() { printf '\\n--%s %s\\n' "$B" "$1"; }
emit_state() { if [ -e "$d/state.json" ]; then sec 'state 1'; cat -- "$d/state.json" || exit 1; else sec 'state 0'; fi; }
emit_history() {
  [ "$1" = - ] && return 0
  h="$d/history.jsonl"
  [ -e "$h" ] || { sec 'history 0 0 0'; return 0; }
  n=$(wc -c < "$h"); n=$((n)); o=$1; [ "$n" -ge "$o" ] || o=0
  e=$((n - o)); [ "$e" -le ${HISTORY_CHUNK} ] || e=${HISTORY_CHUNK}
  sec "history $o $((o + e)) $n"; tail -c +$((o + 1)) -- "$h" | head -c "$e"
}
emit_lock() {
  if [ -z "$1" ] || [ ! -d "$1" ]; then sec 'lock 0'; return 0; fi
  sec 'lock 1'
  ${LOCK_ANSWER}
}`;

/** $3 history offset ("-": none), $4 the rollout lock's folder ("": not asked). */
export const READ_SCRIPT = `${SECTIONS}
emit_state; emit_lock "$4"; emit_history "$3"; sec end`;

/**
 * $3 expect: any | absent | same (as $4) | ifabsent (write the state only where there is none),
 * $4 the state expected, $5 the new state ("": unchanged), $6 history offset, $7 a push id ("": none;
 * a push already made is not made again), $8 a line whose presence in the history means the lines are
 * there already (a copy of this history pushed back: never twice); stdin: history lines to append. Under a lock folder held
 * for the few milliseconds of the swap (taken over after 10 s: its writer died); exit 9 with the
 * current state when the expected one is not there.
 */
export const WRITE_SCRIPT = `${SECTIONS}
mkdir -p -- "$d" || exit 1
t="$d/.in.$$"; cat > "$t" || exit 1
L="$d/.write.lock"; i=0
until mkdir -- "$L" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 20 ]; then
    now=$(date +%s); m=$(stat -c %Y -- "$L" 2>/dev/null || stat -f %m -- "$L" 2>/dev/null || echo "$now")
    if [ $((now - m)) -gt 10 ]; then rm -rf -- "$L"; continue; fi
    if [ "$i" -gt 400 ]; then rm -f -- "$t"; echo "$L is held: another phar-rollout is writing the rollout state; if none is running, remove that folder" >&2; exit 1; fi
  fi
  sleep 0.05 2>/dev/null || sleep 1
done
trap 'rm -f -- "$t"; rmdir -- "$L" 2>/dev/null' EXIT
trap 'exit 1' HUP INT TERM
f="$d/state.json"
case "$3" in
  absent) [ ! -e "$f" ] || { emit_state; emit_history "$6"; sec end; exit ${CONFLICT}; } ;;
  same) { [ -e "$f" ] && [ "$(cat -- "$f"; printf x)" = "\${4}x" ]; } || { emit_state; emit_history "$6"; sec end; exit ${CONFLICT}; } ;;
esac
push=1
h="$d/history.jsonl"
if [ -n "$8" ] && [ -e "$h" ] && grep -qxF -- "$8" "$h"; then push=0; fi
if [ "$push" = 1 ] && [ -n "$7" ]; then mkdir -p -- "$d/pushed" && { mkdir -- "$d/pushed/$7" 2>/dev/null || push=0; }; fi
if [ "$push" = 1 ] && [ -s "$t" ]; then
  if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\\n' >> "$h"; fi
  cat -- "$t" >> "$h" || exit 1
fi
w=$5; [ "$3" = ifabsent ] && [ -e "$f" ] && w=
if [ -n "$w" ]; then printf '%s' "$w" > "$d/.state.$$" && mv -f -- "$d/.state.$$" "$f" || exit 1; fi
sec "wrote $push $([ -n "$w" ] && echo 1 || echo 0)"
emit_history "$6"; sec end`;

/** One section of a script's answer. */
export interface Section {
  name: string;
  fields: string[];
  body: string;
}

/**
 * Splits a script's answer into its sections. An answer without its end (cut short: the connection
 * dropped, output capped) or with text before the first section throws.
 */
export function parseSections(stdout: string, boundary: string, where: string): Section[] {
  const parts = stdout.split(`\n--${boundary} `);
  if (parts[0] !== '' || parts.length < 2)
    throw new OperationError(`the rollout store at ${where} answered something else: ${JSON.stringify(stdout.slice(0, 80))}`, {
      step: 'store',
    });
  const sections = parts.slice(1).map((p) => {
    const nl = p.indexOf('\n');
    const [name, ...fields] = (nl < 0 ? p : p.slice(0, nl)).split(' ');
    return { name, fields, body: nl < 0 ? '' : p.slice(nl + 1) };
  });
  if (sections.at(-1)?.name !== 'end')
    throw new OperationError(`the answer of the rollout store at ${where} was cut short; try again`, { step: 'store' });
  return sections.slice(0, -1);
}

/** A history chunk: bytes [from, to) of a history of `size` bytes. */
export interface HistoryChunk {
  from: number;
  to: number;
  size: number;
  text: string;
}

/** The state text (undefined: none on the host), the lock answer, the history chunk in an answer. */
export function readAnswer(
  sections: readonly Section[],
  where: string,
): { state?: { text?: string }; lock?: LockRead | null; history?: HistoryChunk; wrote?: { pushed: boolean; state: boolean } } {
  const out: ReturnType<typeof readAnswer> = {};
  for (const s of sections) {
    if (s.name === 'state') out.state = s.fields[0] === '1' ? { text: s.body } : {};
    else if (s.name === 'lock') out.lock = s.fields[0] === '1' ? parseLockAnswer(s.body) : null;
    else if (s.name === 'wrote') out.wrote = { pushed: s.fields[0] === '1', state: s.fields[1] === '1' };
    else if (s.name === 'history') {
      const [from, to, size] = s.fields.map(Number);
      if (![from, to, size].every((n) => Number.isSafeInteger(n) && n >= 0) || to < from)
        throw new OperationError(`the rollout store at ${where} sent a malformed history header: ${JSON.stringify(s.fields.join(' '))}`, {
          step: 'store',
        });
      out.history = { from, to, size, text: s.body };
    }
  }
  return out;
}

interface CacheMeta {
  version: 1;
  where: string;
  historyBytes: number;
  syncedAt: string;
}

async function readMeta(projectDir: string): Promise<CacheMeta | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(cacheMetaPath(projectDir), 'utf8')) as Partial<CacheMeta>;
    if (m.version === 1 && typeof m.where === 'string' && Number.isSafeInteger(m.historyBytes) && typeof m.syncedAt === 'string')
      return m as CacheMeta;
  } catch {
    // missing or unreadable: the cache starts over
  }
  return undefined;
}

async function writeMeta(projectDir: string, meta: CacheMeta): Promise<void> {
  const file = cacheMetaPath(projectDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(meta, null, 2) + '\n');
  await fs.rename(tmp, file);
}

/**
 * The shared store on an LB's host. One instance per operation's transport pool (see storeFor);
 * several processes and checkouts may use the same store at once.
 */
export class SharedStore implements RolloutStore {
  readonly shared = true;
  private trips = 0;
  /** The state text last seen on the host (undefined text: none there); the next write expects it. */
  private known: { text?: string } | undefined;
  private migrated: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    /** The store folder on the host. */
    readonly dir: string,
    /** The rollout lock's folder on the host (read with the state). */
    private readonly lockDir: string,
    readonly where: string,
    readonly projectDir: string,
    private readonly log: Pick<Logger, 'warn' | 'debug'> = nullLogger,
  ) {}

  get roundTrips(): number {
    return this.trips;
  }

  private get stateWhere(): string {
    return `${this.where}/state.json`;
  }

  private async script(
    script: string,
    args: string[],
    input: string,
    signal?: AbortSignal,
  ): Promise<{ code: number; sections: Section[] }> {
    const boundary = randomBytes(12).toString('hex');
    this.trips++;
    const r = await this.transport.exec(['sh', '-c', script, 'sh', this.dir, boundary, ...args], {
      input,
      signal,
      allowFailure: true,
      timeoutMs: 30000,
    });
    if (r.code !== 0 && r.code !== CONFLICT)
      throw new OperationError(`the rollout store at ${this.where} failed: ${r.stderr.trim() || `exit ${r.code}`}`, {
        step: 'store',
        host: this.transport.host,
      });
    return { code: r.code, sections: parseSections(r.stdout, boundary, this.where) };
  }

  /** The history offset to ask for: the cache's, when it copies this store. */
  private async offset(): Promise<number> {
    const meta = await readMeta(this.projectDir);
    return meta?.where === this.where ? meta.historyBytes : 0;
  }

  async read(options: { lock?: boolean; signal?: AbortSignal } = {}): Promise<StoreRead> {
    try {
      await this.ready(options.signal);
      let offset = await this.offset();
      const { sections } = await this.script(READ_SCRIPT, [String(offset), options.lock ? this.lockDir : ''], '', options.signal);
      const answer = readAnswer(sections, this.where);
      let history = answer.history;
      while (history && (await this.cacheHistory(offset, history)) && history.to < history.size) {
        offset = history.to; // a long history: the rest, chunk by chunk
        history = readAnswer((await this.script(READ_SCRIPT, [String(offset), ''], '', options.signal)).sections, this.where).history;
      }
      this.known = answer.state;
      const out: StoreRead = { where: this.where, ...(answer.lock ? { lock: answer.lock } : {}) };
      if (answer.state?.text === undefined) {
        await fs.rm(statePath(this.projectDir), { force: true });
        return out;
      }
      try {
        out.state = parseState(answer.state.text, this.stateWhere);
        await this.cacheState(out.state);
      } catch (err) {
        if (!(err instanceof StateFileError)) throw err;
        out.stateError = err;
      }
      return out;
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      return this.fromCache(err);
    }
  }

  /** The host could not be read: the cache, marked as such. */
  private async fromCache(err: unknown): Promise<StoreRead> {
    const meta = await readMeta(this.projectDir);
    const cached = `${describeError(err)}; showing this checkout's copy${meta ? ` from ${meta.syncedAt}` : ''} (.rollout/)`;
    this.log.warn(`reading the shared rollout failed: ${cached}`);
    try {
      return { where: this.where, state: await readState(this.projectDir), cached };
    } catch (e) {
      if (!(e instanceof StateFileError)) throw e;
      return { where: this.where, stateError: e, cached };
    }
  }

  async update(
    change: (current: RolloutState | undefined) => RolloutState | undefined,
    events?: (written: RolloutState, before: RolloutState | undefined) => NewHistoryEvent[],
    signal?: AbortSignal,
  ): Promise<RolloutState | undefined> {
    await this.ready(signal);
    let known = this.known;
    if (!known) {
      const r = await this.read({ signal });
      if (r.cached) throw new OperationError(`cannot change the rollout: ${r.cached}`, { step: 'store', host: this.transport.host });
      known = this.known ?? {};
    }
    for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
      const current = known.text === undefined ? undefined : parseState(known.text, this.stateWhere);
      const next = change(current);
      if (next === undefined) return current;
      const written: RolloutState = { ...next, updatedAt: new Date().toISOString() };
      const text = stateText(written);
      const lines = await this.lines(events?.(written, current) ?? []);
      const offset = await this.offset();
      const mode = known.text === undefined ? 'absent' : 'same';
      const r = await this.script(WRITE_SCRIPT, [mode, known.text ?? '', text, String(offset), ''], lines, signal);
      const answer = readAnswer(r.sections, this.where);
      if (answer.history) await this.cacheHistory(offset, answer.history);
      if (r.code === CONFLICT) {
        known = answer.state ?? {}; // changed meanwhile (a pause from elsewhere): apply the change to what is there
        this.known = known;
        continue;
      }
      this.known = { text };
      await this.cacheState(written);
      return written;
    }
    throw new OperationError(`the rollout state at ${this.where} kept changing while this change was saved; try again`, {
      step: 'store',
    });
  }

  async append(event: HistoryEvent): Promise<void> {
    try {
      await this.ready();
      await this.appendLines(JSON.stringify(event) + '\n', '');
    } catch (err) {
      if (err instanceof CancelledError) throw err;
      // Never lost: kept on this machine and pushed by the next access.
      this.log.warn(
        `recording "${event.action}" in the shared history failed (${describeError(err)}); kept in .rollout/ until the next access`,
      );
      await appendLine(pendingHistoryPath(this.projectDir), JSON.stringify(event) + '\n');
    }
  }

  private async appendLines(lines: string, pushId: string, state?: string, seenLine = ''): Promise<{ pushed: boolean; state: boolean }> {
    const offset = await this.offset();
    const r = await this.script(WRITE_SCRIPT, [state ? 'ifabsent' : 'any', '', state ?? '', String(offset), pushId, seenLine], lines);
    const answer = readAnswer(r.sections, this.where);
    if (answer.history) await this.cacheHistory(offset, answer.history);
    if (state && answer.wrote?.state) this.known = { text: state };
    return answer.wrote ?? { pushed: false, state: false };
  }

  private async lines(events: readonly NewHistoryEvent[]): Promise<string> {
    const full = await Promise.all(events.map((e) => completeEvent(this.projectDir, e)));
    return full.map((e) => JSON.stringify(e) + '\n').join('');
  }

  /** The state as last seen, in `.rollout/state.json` (an older one never replaces a newer: several processes write it). */
  private async cacheState(state: RolloutState): Promise<void> {
    const cached = await readState(this.projectDir).catch(() => undefined);
    if (cached && cached.updatedAt > state.updatedAt && cached.startedAt === state.startedAt) return;
    await writeState(this.projectDir, state);
  }

  /**
   * Adds a history chunk (asked from `asked`) to `.rollout/history.jsonl`, the byte-exact copy of the
   * shared history's first `historyBytes` bytes; a chunk from 0 when more was asked (the shared
   * history was replaced) starts the copy over. Returns false when the chunk was not usable.
   */
  private async cacheHistory(asked: number, chunk: HistoryChunk): Promise<boolean> {
    return withLocalLock(path.join(this.projectDir, ROLLOUT_DIR, 'cache.lock'), async () => {
      const meta = await readMeta(this.projectDir);
      let have = meta?.where === this.where ? meta.historyBytes : 0;
      const file = historyPath(this.projectDir);
      const bytes = Buffer.from(chunk.text, 'utf8');
      if (chunk.from === 0 && (asked > 0 || have === 0)) {
        // The shared history is shorter than the copy (replaced on the host): the copy is kept beside, never lost.
        if (have > 0) await fs.rename(file, `${file}.replaced-${Date.now()}`).catch(() => undefined);
        have = 0;
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, '');
      }
      if (chunk.from > have) return false; // a gap: the next access asks again from `have`
      if (chunk.to > have) await fs.appendFile(file, bytes.subarray(Math.min(bytes.length, have - chunk.from)));
      await writeMeta(this.projectDir, {
        version: 1,
        where: this.where,
        historyBytes: Math.max(have, chunk.to),
        syncedAt: new Date().toISOString(),
      });
      return true;
    });
  }

  /** Once per instance: a checkout's state and history from before the shared store are pushed (migration); then any pending events. */
  private ready(signal?: AbortSignal): Promise<void> {
    this.migrated ??= this.migrate(signal).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated.then(() => this.pushPending());
  }

  /**
   * A checkout whose `.rollout/` was never a copy of this store holds its own state and history
   * (from before the shared store): both go up once, the history appended (never lost), the state
   * only where the store has none (the team's state wins), recorded as a "migrated" event. The
   * local files are kept beside, as `*.pre-shared`.
   */
  private async migrate(signal?: AbortSignal): Promise<void> {
    const meta = await readMeta(this.projectDir);
    if (meta) {
      if (meta.where !== this.where) await writeMeta(this.projectDir, { ...meta, where: this.where, historyBytes: 0 });
      return;
    }
    const stateFile = statePath(this.projectDir);
    const historyFile = historyPath(this.projectDir);
    const [stateText0, historyText] = await Promise.all([
      fs.readFile(stateFile, 'utf8').catch(() => ''),
      fs.readFile(historyFile, 'utf8').catch(() => ''),
    ]);
    if (stateText0 || historyText) {
      let state: string | undefined;
      try {
        state = stateText0 ? stateText(parseState(stateText0, stateFile)) : undefined;
      } catch (err) {
        this.log.warn(`${describeError(err)}: not pushed to the shared store (kept as ${stateFile}.pre-shared)`);
      }
      const id = createHash('sha256').update(stateText0).update('\0').update(historyText).digest('hex').slice(0, 24);
      const events = historyText.split('\n').filter((l) => l.trim()).length;
      const marker = await completeEvent(this.projectDir, {
        action: 'migrated',
        target: this.where,
        after: { events, state: state !== undefined, migration: id },
        result: `ok (this checkout's .rollout/ history${state ? ' and state' : ''} pushed to the shared store)`,
      });
      const body = (historyText && !historyText.endsWith('\n') ? historyText + '\n' : historyText) + JSON.stringify(marker) + '\n';
      // Aside first: the push refreshes the cache, whose files these are.
      const aside = [stateFile, historyFile].filter((_, i) => (i === 0 ? stateText0 : historyText));
      for (const f of aside) await fs.rename(f, `${f}.pre-shared`);
      // A copy of this very history (its shared.json lost) is not pushed back: its last line is there already.
      const last =
        historyText
          .split('\n')
          .filter((l) => l.trim())
          .at(-1) ?? '';
      let wrote;
      try {
        wrote = await this.appendLines(body, id, state, last);
      } catch (err) {
        for (const f of aside) await fs.rename(`${f}.pre-shared`, f).catch(() => undefined);
        throw err;
      }
      if (state && !wrote.state)
        this.log.warn(`the shared store already has a rollout state: this checkout's is kept as ${stateFile}.pre-shared`);
    }
    throwIfAborted(signal);
    await writeMeta(this.projectDir, { version: 1, where: this.where, historyBytes: 0, syncedAt: new Date().toISOString() });
  }

  /** Events kept on this machine (a build, an unreachable host) go up, each batch once (its id). */
  private async pushPending(): Promise<void> {
    const file = pendingHistoryPath(this.projectDir);
    const taken = `${file}.${randomBytes(4).toString('hex')}.push`;
    try {
      await fs.rename(file, taken);
    } catch {
      return; // none
    }
    const text = await fs.readFile(taken, 'utf8');
    try {
      const id = createHash('sha256').update(text).digest('hex').slice(0, 24);
      if (text.trim()) await this.appendLines(text.endsWith('\n') ? text : text + '\n', id);
      await fs.rm(taken, { force: true });
    } catch (err) {
      await appendLine(file, text.endsWith('\n') ? text : text + '\n');
      await fs.rm(taken, { force: true });
      throw err;
    }
  }
}

/** The checkout's own `.rollout/` as the store (no load balancer): files changed with node's fs. */
export class ProjectStore implements RolloutStore {
  readonly shared = false;
  readonly roundTrips = 0;
  readonly where: string;

  constructor(readonly projectDir: string) {
    this.where = path.join(projectDir, ROLLOUT_DIR);
  }

  async read(): Promise<StoreRead> {
    try {
      return { where: this.where, state: await readState(this.projectDir) };
    } catch (err) {
      if (!(err instanceof StateFileError)) throw err;
      return { where: this.where, stateError: err };
    }
  }

  update(
    change: (current: RolloutState | undefined) => RolloutState | undefined,
    events?: (written: RolloutState, before: RolloutState | undefined) => NewHistoryEvent[],
  ): Promise<RolloutState | undefined> {
    return updateState(this.projectDir, change, events);
  }

  async append(event: HistoryEvent): Promise<void> {
    await appendHistory(this.projectDir, event);
  }
}

const stores = new WeakMap<object, Map<string, RolloutStore>>();

/**
 * The rollout's store for `config`: beside the rollout lock on the first LB's host (see lockLocation),
 * or the checkout's `.rollout/` without an LB. One instance per `scope` (the operation's transport
 * pool), so the ramps of a run share what they last saw of the state.
 */
export function storeFor(
  config: Pick<RolloutConfig, 'loadBalancers' | 'projectDir'>,
  transportOf: (target: { ssh?: string }) => Transport,
  scope: object,
  log?: Pick<Logger, 'warn' | 'debug'>,
): RolloutStore {
  const lb = config.loadBalancers[0];
  const key = `${config.projectDir}\0${lb ? `${lb.ssh ?? ''}\0${lb.file}` : ''}`;
  let map = stores.get(scope);
  if (!map) stores.set(scope, (map = new Map()));
  let store = map.get(key);
  if (!store) {
    if (!lb) store = new ProjectStore(config.projectDir);
    else {
      const lock = lockLocation(config, transportOf);
      const dir = sharedStoreDir(lb.file);
      store = new SharedStore(transportOf(lb), dir, lock.dir, `${lb.name}:${dir}`, config.projectDir, log);
    }
    map.set(key, store);
  }
  return store;
}

/**
 * The rollout's state from `store`, for an operation that changes it: a corrupt state throws its
 * located StateFileError, and so does a store that could not be read (a copy is not enough to act on).
 */
export async function currentState(store: RolloutStore, signal?: AbortSignal): Promise<RolloutState | undefined> {
  const r = await store.read({ signal });
  if (r.stateError) throw r.stateError;
  if (r.cached) throw new OperationError(`cannot read the rollout at ${store.where}: ${r.cached}`, { step: 'store' });
  return r.state;
}
