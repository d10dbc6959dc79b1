import { randomBytes } from 'node:crypto';
import type { LoadBalancerConfig } from '../config/rolloutConfig';
import { InputError } from '../errors';

/**
 * First port of the default status range. 29000–29999 lies below Linux's ephemeral range
 * (32768–60999), so an outgoing connection never holds it, and is not a well-known service port.
 */
export const STATUS_PORT_BASE = 29000;
const STATUS_PORT_SPAN = 1000;

/** A status address nginx can listen on: IPv4 loopback, [::1] or localhost, with a port. */
const STATUS_ADDRESS = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/;
const GENERATION = /^[0-9]{1,3}\.[0-9]{2}-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{8}$/;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The loopback address of `lb`'s status endpoint: `lb.status`, else `127.0.0.1:<port>` with the port
 * derived from the LB's name and file (29000–29999): stable across generations (nginx keeps the socket
 * over reloads) and distinct for the LBs of one host in practice. Throws InputError on a non-loopback value.
 */
export function statusAddress(lb: Pick<LoadBalancerConfig, 'name' | 'file' | 'status'>): string {
  if (lb.status === undefined) return `127.0.0.1:${STATUS_PORT_BASE + (fnv1a(`${lb.name}\0${lb.file}`) % STATUS_PORT_SPAN)}`;
  const m = STATUS_ADDRESS.exec(lb.status);
  const port = Number(m?.[1]);
  if (!m || !(port >= 1 && port <= 65535))
    throw new InputError(`The status address "${lb.status}" of load balancer "${lb.name}" is not a loopback host:port`, {
      hint: 'Use e.g. 127.0.0.1:29123 with a port nothing else listens on (ss -ltn shows the ones in use).',
    });
  return lb.status;
}

/** A new generation id: split, time and a random part, e.g. `25.00-20260102T030405.000Z-9f3a1c2b`. */
export function newGeneration(split: number, time: Date): string {
  const stamp = time.toISOString().replace(/[-:]/g, '');
  return `${split.toFixed(2)}-${stamp}-${randomBytes(4).toString('hex')}`;
}

/** True for a string newGeneration could have made (safe inside nginx and shell text). */
export function isGeneration(value: unknown): value is string {
  return typeof value === 'string' && GENERATION.test(value);
}

/** What the status endpoint answers. */
export interface StatusAnswer {
  generation: string;
  split: number;
  lb?: string;
  mode?: string;
}

/** Parses the status endpoint's JSON; undefined when it is not ours. */
export function parseStatusAnswer(text: string): StatusAnswer | undefined {
  try {
    const v = JSON.parse(text) as Partial<StatusAnswer>;
    if (!isGeneration(v.generation) || typeof v.split !== 'number') return undefined;
    return { generation: v.generation, split: v.split, lb: typeof v.lb === 'string' ? v.lb : undefined, mode: v.mode };
  } catch {
    return undefined;
  }
}

/** The status address a managed file's status `server` listens on (undefined: none in the text). */
export function statusAddressIn(text: string): string | undefined {
  return /^# Status endpoint:.*\nserver \{\n\s+listen (\S+);$/m.exec(text)?.[1];
}

/**
 * The status `server` of a managed file: answers JSON with the generation and split on every path.
 * Its own server on a loopback address, so the user's servers and logs never see it.
 */
export function renderStatusServer(address: string, answer: StatusAnswer): string[] {
  // Every value is checked (generation pattern, names by the renderer), so none holds ' or $.
  const body = JSON.stringify({ generation: answer.generation, split: answer.split, lb: answer.lb, mode: answer.mode });
  return [
    '# Status endpoint: which generation nginx really serves (read by Phar Rollout after every reload).',
    'server {',
    `    listen ${address};`,
    '    access_log off;',
    '    location / {',
    '        default_type application/json;',
    `        return 200 '${body}';`,
    '    }',
    '}',
  ];
}
