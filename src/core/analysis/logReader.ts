/**
 * Reads what nginx appended to an access log since the last read, on this machine (fs) or on an
 * LB over ssh (one `sh -c` per read through the Transport: stat of the log and of `<log>.1`, then
 * the chosen byte ranges, base64 so offsets stay exact whatever bytes a URI holds).
 *
 * Rotation, without losing or double-counting a line:
 * - rename (logrotate's default, then `nginx -s reopen`): the inode we read moved to `<log>.1`.
 *   We keep draining it there (nginx writes to it until every worker reopened) while reading the
 *   new file from 0, until `<log>.1` is no longer that inode (rotated further: whatever was still
 *   unread then is reported as lost).
 * - truncation (copytruncate): same inode, smaller than our offset. `<log>.1` is the copy: when the
 *   bytes just before our offset match what we last read, we continue in it from our offset.
 * - anything else (deleted, recreated, copy missing): start the new file at 0 and count the loss.
 *
 * Offsets always sit just after a newline: a partial last line is read again next time, so the
 * cursor is plain JSON (resumable from shared state) and holds no buffered bytes.
 */
import { promises as fs } from 'node:fs';
import type { Transport } from '../exec/transport';
import { OperationError } from '../errors';
import { forEachAccessLogLine } from './accessLog';
import type { AccessLogEntry } from './accessLog';

/** Bytes remembered before an offset to recognise a copytruncate copy. */
const TAIL = 48;
/** Default bytes per read over a transport: few round trips. */
export const DEFAULT_CHUNK = 4 * 1024 * 1024;
/** Default bytes per local read: a local read costs no round trip, and smaller chunks keep the heap small. */
export const DEFAULT_LOCAL_CHUNK = 1024 * 1024;

/** Where reading one file stands. */
export interface FileCursor {
  inode: string;
  /** Byte offset just after the last complete line read. */
  offset: number;
  /** base64 of up to TAIL bytes before `offset` (main cursor only). */
  tail?: string;
  /** The file's size at the last read (drain cursor only: a drain that stopped growing is finished). */
  size?: number;
}

/** Where reading one LB's log stands; plain JSON. */
export interface LogCursor {
  /** The live file (`<log>`). */
  main?: FileCursor;
  /** A rotated file still being drained (`<log>.1`). */
  drain?: FileCursor;
  /** True once the first read happened (a file appearing later is read from 0, not from its end). */
  started: boolean;
}

/** inode and size of a file; undefined when absent. */
export type FileStat = { inode: string; size: number } | undefined;

/** One byte range to read: from the live file or from `<log>.1`. */
export interface PlannedRead {
  file: 'cur' | 'old';
  start: number;
  length: number;
  /** drain: continue the drain cursor; main: the main cursor; copy: a copytruncate copy (first TAIL bytes verify). */
  role: 'drain' | 'main' | 'copy' | 'rotated';
}

/**
 * The reads for one round (pure; the remote script implements the same rules, and the answer
 * carries its reads so a disagreement is caught). `startAt` applies to the very first read.
 */
export function planReads(cursor: LogCursor, cur: FileStat, old: FileStat, max: number, startAt: 'start' | 'end'): PlannedRead[] {
  const reads: PlannedRead[] = [];
  let left = max;
  const add = (file: 'cur' | 'old', start: number, length: number, role: PlannedRead['role']) => {
    const n = Math.max(0, Math.min(length, left));
    reads.push({ file, start, length: n, role });
    left -= n;
  };
  const d = cursor.drain;
  if (d && old && old.inode === d.inode && old.size >= d.offset) add('old', d.offset, old.size - d.offset, 'drain');
  const m = cursor.main;
  if (!m) {
    if (cur && (cursor.started || startAt === 'start')) add('cur', 0, cur.size, 'main');
  } else if (cur && cur.inode === m.inode && cur.size >= m.offset) {
    // From just before the offset: the bytes we read last time must still be there (an inode can be
    // reused by a deleted and recreated log).
    add('cur', m.offset - tailLength(m), cur.size - m.offset + tailLength(m), 'main');
  } else {
    const tail = tailLength(m);
    if (cur && cur.inode === m.inode) {
      if (old && old.inode !== m.inode && old.size >= m.offset) add('old', m.offset - tail, old.size - m.offset + tail, 'copy');
    } else if (old && old.inode === m.inode && old.size >= m.offset) add('old', m.offset, old.size - m.offset, 'rotated');
    if (cur) add('cur', 0, cur.size, 'main');
  }
  return reads;
}

const tailLength = (c: FileCursor | undefined) => (c?.tail ? Buffer.from(c.tail, 'base64').length : 0);

/** What one read returned. */
export interface ReadResult {
  entries: AccessLogEntry[];
  /** Complete lines read. */
  lines: number;
  /** Lines not in the phar_rollout format (and lines longer than a chunk). */
  unparsable: number;
  /** Rotations where unread bytes could not be recovered (file deleted or rotated twice). */
  lost: number;
  /** Bytes of complete lines consumed. */
  bytes: number;
  /** More bytes are waiting than one chunk held: read again. */
  more: boolean;
  cursor: LogCursor;
}

/** Options of a read. */
export interface ReadOptions {
  signal?: AbortSignal;
  /** Receives each entry instead of `ReadResult.entries`. */
  onEntry?: (entry: AccessLogEntry) => void;
}

/** Gets stats and byte ranges of one log in one round trip. */
export interface LogSource {
  readonly description: string;
  /** Bytes per read when the reader is not told otherwise. */
  readonly chunkBytes: number;
  /** Block data is valid until the next call. */
  read(
    cursor: LogCursor,
    max: number,
    startAt: 'start' | 'end',
    signal?: AbortSignal,
  ): Promise<{ cur: FileStat; old: FileStat; blocks: Array<PlannedRead & { data: Buffer }> }>;
}

/** The log on this machine, through fs (inode via bigint stat). */
export class LocalLogSource implements LogSource {
  readonly chunkBytes = DEFAULT_LOCAL_CHUNK;
  /** Reused between reads: the blocks of one read share one budget, so they fit side by side. */
  private scratch = Buffer.alloc(0);

  constructor(readonly file: string) {}

  get description(): string {
    return this.file;
  }

  async read(cursor: LogCursor, max: number, startAt: 'start' | 'end') {
    // Open first, then fstat: the bytes we read belong to the inode we report, even mid-rotation.
    const openStat = async (p: string) => {
      const h = await fs.open(p, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw new OperationError(`cannot read ${p}: ${err.message}`, { step: 'read', file: p });
      });
      if (!h) return { h, st: undefined };
      const s = await h.stat({ bigint: true });
      return { h, st: { inode: String(s.ino), size: Number(s.size) } };
    };
    const c = await openStat(this.file);
    const o = await openStat(`${this.file}.1`);
    try {
      const plan = planReads(cursor, c.st, o.st, max, startAt);
      const blocks: Array<PlannedRead & { data: Buffer }> = [];
      if (this.scratch.length < max) this.scratch = Buffer.allocUnsafe(max);
      let at = 0;
      for (const r of plan) {
        const h = r.file === 'cur' ? c.h : o.h;
        const data = this.scratch.subarray(at, at + r.length);
        at += r.length;
        let got = 0;
        while (h && got < r.length) {
          const { bytesRead } = await h.read(data, got, r.length - got, r.start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        blocks.push({ ...r, data: data.subarray(0, got) });
      }
      return { cur: c.st, old: o.st, blocks };
    } finally {
      await c.h?.close();
      await o.h?.close();
    }
  }
}

/**
 * The reader script: stat both files, apply planReads' rules, print each block as a header line
 * and base64. Arguments: $1 log, $2 max, $3 start|end, $4 main inode (- none), $5 main offset,
 * $6 tail length, $7 drain inode (- none), $8 drain offset, $9 started (1|0).
 */
export const READ_SCRIPT = `p=$1 left=$2 at=$3 mi=$4 mo=$5 tl=$6 di=$7 dof=$8 started=$9
st() { stat -L -c '%i %s' -- "$1" 2>/dev/null || echo '- -'; }
set -- $(st "$p") $(st "$p.1"); ci=$1 cs=$2 oi=$3 os=$4
echo "stat $ci $cs $oi $os"
blk() {
  n=$4; [ "$n" -gt "$left" ] && n=$left; [ "$n" -lt 0 ] && n=0
  echo "block $1 $3 $n $5"
  if [ "$n" -gt 0 ]; then tail -c +$(($3 + 1)) -- "$2" | head -c "$n" | base64; fi
  echo .
  left=$((left - n))
}
if [ "$di" != - ] && [ "$oi" = "$di" ] && [ "$os" -ge "$dof" ]; then blk old "$p.1" "$dof" $((os - dof)) drain; fi
if [ "$mi" = - ]; then
  if [ "$ci" != - ] && { [ "$started" = 1 ] || [ "$at" = start ]; }; then blk cur "$p" 0 "$cs" main; fi
elif [ "$ci" = "$mi" ] && [ "$cs" -ge "$mo" ]; then blk cur "$p" $((mo - tl)) $((cs - mo + tl)) main
else
  if [ "$ci" = "$mi" ]; then
    if [ "$oi" != - ] && [ "$oi" != "$mi" ] && [ "$os" -ge "$mo" ]; then blk old "$p.1" $((mo - tl)) $((os - mo + tl)) copy; fi
  elif [ "$oi" = "$mi" ] && [ "$os" -ge "$mo" ]; then blk old "$p.1" "$mo" $((os - mo)) rotated
  fi
  if [ "$ci" != - ]; then blk cur "$p" 0 "$cs" main; fi
fi`;

/** The log on an LB reached through its transport (ssh): one `sh -c` per read. */
export class TransportLogSource implements LogSource {
  readonly chunkBytes = DEFAULT_CHUNK;

  constructor(
    private readonly transport: Transport,
    readonly file: string,
  ) {}

  get description(): string {
    return `${this.transport.host}:${this.file}`;
  }

  async read(cursor: LogCursor, max: number, startAt: 'start' | 'end', signal?: AbortSignal) {
    const m = cursor.main;
    const tail = tailLength(m);
    const args = [
      this.file,
      String(max),
      startAt,
      m?.inode ?? '-',
      String(m?.offset ?? 0),
      String(tail),
      cursor.drain?.inode ?? '-',
      String(cursor.drain?.offset ?? 0),
      cursor.started ? '1' : '0',
    ];
    // base64 grows 4/3 plus newlines: leave room in the process buffer.
    const r = await this.transport.exec(['sh', '-c', READ_SCRIPT, 'sh', ...args], {
      signal,
      allowFailure: true,
      timeoutMs: 60_000,
    });
    if (r.code !== 0) {
      throw new OperationError(`reading ${this.file} on ${this.transport.host} failed: ${r.stderr.trim() || `exit ${r.code}`}`, {
        step: 'read',
        host: this.transport.host,
      });
    }
    return parseScriptAnswer(r.stdout, this.description);
  }
}

function parseScriptAnswer(stdout: string, where: string) {
  const lines = stdout.split('\n');
  const bad = (why: string): never => {
    throw new OperationError(`unexpected answer from the log reader for ${where}: ${why}`, { step: 'read', file: where });
  };
  const head = /^stat (\S+) (\S+) (\S+) (\S+)$/.exec(lines[0] ?? '') ?? bad('no stat line');
  const stat = (ino: string, size: string): FileStat => (ino === '-' ? undefined : { inode: ino, size: Number(size) });
  const cur = stat(head[1], head[2]);
  const old = stat(head[3], head[4]);
  const blocks: Array<PlannedRead & { data: Buffer }> = [];
  let i = 1;
  while (i < lines.length && lines[i] !== '') {
    const b = /^block (cur|old) (-?\d+) (\d+) (drain|main|copy|rotated)$/.exec(lines[i]) ?? bad(`line ${i + 1}`);
    i++;
    let b64 = '';
    while (i < lines.length && lines[i] !== '.') b64 += lines[i++];
    if (lines[i] !== '.') bad('a block is not terminated');
    i++;
    blocks.push({
      file: b[1] as 'cur' | 'old',
      start: Number(b[2]),
      length: Number(b[3]),
      role: b[4] as PlannedRead['role'],
      data: Buffer.from(b64, 'base64'),
    });
  }
  return { cur, old, blocks };
}

/** Splits a block at its last newline: complete lines, and how many bytes they took. */
function completeLines(data: Buffer, full: boolean): { text: string; consumed: number; overlong: boolean } {
  const nl = data.lastIndexOf(0x0a);
  if (nl < 0) {
    // A block that filled its whole chunk without a newline is one overlong line: skip it.
    return full && data.length > 0 ? { text: '', consumed: data.length, overlong: true } : { text: '', consumed: 0, overlong: false };
  }
  return { text: data.toString('utf8', 0, nl + 1), consumed: nl + 1, overlong: false };
}

const tailOf = (data: Buffer, end: number, prior?: string): string => {
  const own = data.subarray(Math.max(0, end - TAIL), end);
  if (own.length >= TAIL || !prior) return own.toString('base64');
  return Buffer.concat([Buffer.from(prior, 'base64'), own])
    .subarray(-TAIL)
    .toString('base64');
};

/**
 * Reads one log through a source, keeping its cursor. Pure bookkeeping over the source's answer.
 */
export class AccessLogReader {
  cursor: LogCursor;

  constructor(
    readonly source: LogSource,
    private readonly options: { startAt?: 'start' | 'end'; chunkBytes?: number; cursor?: LogCursor } = {},
  ) {
    this.cursor = options.cursor ?? { started: false };
  }

  /**
   * One round trip: at most chunkBytes of new bytes. With `onEntry`, entries go there as they are
   * parsed and `entries` stays empty (bounded memory for big logs).
   */
  async read(options: ReadOptions = {}): Promise<ReadResult> {
    const { signal, onEntry } = options;
    const max = Math.max(4096, this.options.chunkBytes ?? this.source.chunkBytes);
    const startAt = this.options.startAt ?? 'end';
    const before = this.cursor;
    const { cur, old, blocks } = await this.source.read(before, max, startAt, signal);
    const plan = planReads(before, cur, old, max, startAt);
    if (plan.length !== blocks.length || plan.some((p, i) => p.role !== blocks[i].role || p.start !== blocks[i].start)) {
      throw new OperationError(`the log reader for ${this.source.description} read other ranges than planned`, {
        step: 'read',
        file: this.source.description,
      });
    }
    const result: ReadResult = { entries: [], lines: 0, unparsable: 0, lost: 0, bytes: 0, more: false, cursor: before };
    const next: LogCursor = { started: true };
    const take = (b: (typeof blocks)[number], skip = 0): number => {
      const data = b.data.subarray(skip);
      const full = b.data.length === max;
      const { text, consumed, overlong } = completeLines(data, full);
      let parsed = 0;
      const bad = forEachAccessLogLine(text, (e) => {
        parsed++;
        if (onEntry) onEntry(e);
        else result.entries.push(e);
      });
      result.unparsable += bad + (overlong ? 1 : 0);
      result.lines += parsed + bad;
      result.bytes += consumed;
      return consumed;
    };
    const m = before.main;
    const d = before.drain;
    // A drain whose file left <log>.1 (rotated again) with bytes we had seen but not read is a loss.
    if (d && !blocks.some((b) => b.role === 'drain') && d.offset < (d.size ?? Infinity)) result.lost++;
    for (const b of blocks) {
      switch (b.role) {
        case 'drain': {
          const used = take(b);
          const offset = b.start + used;
          // Finished: read to its end, and it did not grow since the last read (every nginx worker
          // reopened the new file long ago, as a read interval is seconds to minutes).
          const finished = offset === old!.size && old!.size === d!.size && (cur?.size ?? 0) > 0;
          if (!finished) next.drain = { inode: d!.inode, offset, size: old!.size };
          if (b.length < old!.size - b.start) result.more = true;
          break;
        }
        case 'rotated': {
          const used = take(b);
          next.drain = { inode: old!.inode, offset: b.start + used, size: old!.size };
          if (b.length < old!.size - b.start) result.more = true;
          break;
        }
        case 'copy': {
          const expected = m?.tail ? Buffer.from(m.tail, 'base64') : Buffer.alloc(0);
          if (b.data.subarray(0, expected.length).equals(expected)) {
            const used = take(b, expected.length);
            next.drain = { inode: old!.inode, offset: m!.offset + used, size: old!.size };
            if (b.length < old!.size - b.start) result.more = true;
          } else result.lost++;
          break;
        }
        case 'main': {
          const continuing = m !== undefined && cur!.inode === m.inode && cur!.size >= m.offset;
          const skip = continuing ? tailLength(m) : 0;
          if (continuing && !b.data.subarray(0, skip).equals(Buffer.from(m.tail ?? '', 'base64'))) {
            // Same inode, other bytes: a new file reusing the inode. Read it from 0 next round.
            result.lost++;
            next.main = { inode: cur!.inode, offset: 0 };
            result.more = true;
            break;
          }
          const used = take(b, skip);
          const offset = b.start + skip + used;
          const prior = continuing ? m.tail : undefined;
          next.main = { inode: cur!.inode, offset, tail: used > 0 ? tailOf(b.data.subarray(skip), used, prior) : prior };
          if (b.length < cur!.size - b.start) result.more = true;
          break;
        }
      }
    }
    // Rotated/truncated without a usable copy, or deleted: what was unread there is gone.
    if (m && !(cur && cur.inode === m.inode && cur.size >= m.offset)) {
      if (!blocks.some((b) => b.role === 'rotated' || b.role === 'copy')) result.lost++;
    }
    if (!next.main) {
      if (m && cur && cur.inode === m.inode) next.main = m;
      else if (!before.started && startAt === 'end' && cur) next.main = { inode: cur.inode, offset: cur.size };
    }
    this.cursor = next;
    result.cursor = next;
    return result;
  }

  /** Reads until nothing more is waiting (at most `rounds` round trips; `more` says if that was not enough). */
  async readAll(options: ReadOptions & { rounds?: number } = {}): Promise<ReadResult> {
    const rounds = options.rounds ?? 64;
    const total = await this.read(options);
    for (let i = 1; total.more && i < rounds; i++) {
      const r = await this.read(options);
      total.entries.push(...r.entries);
      total.lines += r.lines;
      total.unparsable += r.unparsable;
      total.lost += r.lost;
      total.bytes += r.bytes;
      total.more = r.more;
      total.cursor = r.cursor;
    }
    return total;
  }
}

/** Entries of several LBs, each tagged with the LB it came from. */
export interface MergedRead {
  entries: Array<AccessLogEntry & { lb: string }>;
  perLb: Record<string, Omit<ReadResult, 'entries'>>;
}

/** Reads every LB's log once (in parallel) and merges the entries in time order. */
export async function readLoadBalancers(readers: ReadonlyMap<string, AccessLogReader>, signal?: AbortSignal): Promise<MergedRead> {
  const results = await Promise.all([...readers].map(async ([lb, r]) => [lb, await r.readAll({ signal })] as const));
  const entries: Array<AccessLogEntry & { lb: string }> = [];
  const perLb: MergedRead['perLb'] = {};
  for (const [lb, { entries: es, ...rest }] of results) {
    for (const e of es) entries.push({ ...e, lb });
    perLb[lb] = rest;
  }
  entries.sort((a, b) => a.timeMs - b.timeMs);
  return { entries, perLb };
}
