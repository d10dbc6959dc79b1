import * as net from 'node:net';
import { CancelledError } from '../errors';

/** One FastCGI responder answer: CGI headers split from the body, plus what the app wrote to stderr. */
export interface FastCgiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

export interface FastCgiOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Request body (FCGI_STDIN). */
  body?: Buffer;
}

const VERSION = 1;
const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;
const STDERR = 7;
const RESPONDER = 1;
const MAX_ANSWER = 1 << 20;

function record(type: number, content: Buffer, requestId = 1): Buffer {
  const padding = (8 - (content.length % 8)) % 8;
  const header = Buffer.alloc(8);
  header.writeUInt8(VERSION, 0);
  header.writeUInt8(type, 1);
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(content.length, 4);
  header.writeUInt8(padding, 6);
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

function length(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0);
  return b;
}

/** Name-value pairs of FCGI_PARAMS, split into records of at most 65535 bytes. */
export function encodeParams(params: Record<string, string>): Buffer[] {
  const pairs = Object.entries(params).map(([k, v]) => {
    const name = Buffer.from(k, 'utf8');
    const value = Buffer.from(v, 'utf8');
    return Buffer.concat([length(name.length), length(value.length), name, value]);
  });
  const all = Buffer.concat(pairs);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65535) out.push(record(PARAMS, all.subarray(i, i + 65535)));
  out.push(record(PARAMS, Buffer.alloc(0)));
  return out;
}

/** Splits a CGI answer ("Status: 200 OK\r\nContent-Type: …\r\n\r\nbody"). */
export function parseCgiAnswer(raw: string): Pick<FastCgiAnswer, 'status' | 'headers' | 'body'> {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^(\d{3})/.exec(headers.status ?? '')?.[1] ?? 200);
  return { status, headers, body };
}

/**
 * Sends one FastCGI responder request to `address` (host:port, as in an nginx upstream) on a
 * fresh connection and resolves with the answer. Rejects on a connection error, a protocol
 * status other than "request complete", the timeout (default 5 s), or abort (CancelledError).
 */
export function fastCgiRequest(address: string, params: Record<string, string>, options: FastCgiOptions = {}): Promise<FastCgiAnswer> {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise<FastCgiAnswer>((resolve, reject) => {
    if (options.signal?.aborted) return reject(new CancelledError());
    let settled = false;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let pending = Buffer.alloc(0);
    const socket = net.connect({ host, port });
    const finish = (err: Error | undefined, answer?: FastCgiAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const onAbort = () => finish(new CancelledError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => finish(new Error(`FastCGI ${address}: no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err: NodeJS.ErrnoException) => finish(new Error(`FastCGI ${address}: ${err.code ?? err.message}`)));
    socket.on('close', () => finish(new Error(`FastCGI ${address}: connection closed before the end of the request`)));
    socket.on('connect', () => {
      const begin = Buffer.alloc(8);
      begin.writeUInt16BE(RESPONDER, 0);
      const body = options.body ?? Buffer.alloc(0);
      const stdin: Buffer[] = [];
      for (let i = 0; i < body.length; i += 65535) stdin.push(record(STDIN, body.subarray(i, i + 65535)));
      stdin.push(record(STDIN, Buffer.alloc(0)));
      socket.write(Buffer.concat([record(BEGIN_REQUEST, begin), ...encodeParams(params), ...stdin]));
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const type = pending.readUInt8(1);
        const len = pending.readUInt16BE(4);
        const pad = pending.readUInt8(6);
        if (pending.length < 8 + len + pad) break;
        const content = pending.subarray(8, 8 + len);
        pending = pending.subarray(8 + len + pad);
        size += len;
        if (size > MAX_ANSWER) return finish(new Error(`FastCGI ${address}: answer larger than ${MAX_ANSWER} bytes`));
        if (type === STDOUT) stdout.push(Buffer.from(content));
        else if (type === STDERR) stderr.push(Buffer.from(content));
        else if (type === END_REQUEST) {
          const protocolStatus = content.readUInt8(4);
          if (protocolStatus !== 0) return finish(new Error(`FastCGI ${address}: request refused (protocol status ${protocolStatus})`));
          return finish(undefined, {
            ...parseCgiAnswer(Buffer.concat(stdout).toString('utf8')),
            stderr: Buffer.concat(stderr).toString('utf8'),
          });
        }
      }
    });
  });
}
