/**
 * Attribution: which backend(s) served (or failed) a logged request.
 *
 * nginx lists every attempt in `$upstream_addr`, `$upstream_status` and `$upstream_response_time`:
 * attempts inside one upstream group are separated by ", " (a retry after `proxy_next_upstream`),
 * groups by " : " (an internal redirect to another location). We count attempts, not requests:
 * an attempt that failed on a canary backend is a canary error even when nginx's retry on a stable
 * backend served the user, because retries hide canary failures from clients, not from us.
 */
import type { AccessLogEntry } from './accessLog';

/** Which side of the split an attempt went to. `other`: an address that is no configured backend. */
export type Side = 'canary' | 'stable' | 'other';

/** One attempt nginx made for a request. */
export interface Attempt {
  /** The address as nginx wrote it (host:port, unix:/path, or the upstream name when none was live). */
  address: string;
  /** The configured backend with this upstream address, if any. */
  backend?: string;
  side: Side;
  /** The upstream's status; undefined when nginx logged "-" (no response). */
  status?: number;
  /** Upstream response time in ms; undefined when nginx logged "-". */
  timeMs?: number;
}

/** A backend as the analysis needs it (a subset of the config's BackendConfig). */
export interface AttributedBackend {
  name: string;
  group: 'stable' | 'canary';
  /** host:port as in the nginx upstream (and so as nginx logs it in $upstream_addr). */
  upstream: string;
}

/**
 * Maps nginx's logged addresses to backends and sides. Addresses are compared as written in the
 * config and, for hostnames, nginx logs the resolved IP: give `aliases` (address → backend name)
 * for those.
 */
export class Attributor {
  private readonly byAddress = new Map<string, AttributedBackend>();

  constructor(backends: readonly AttributedBackend[], aliases: Readonly<Record<string, string>> = {}) {
    for (const b of backends) this.byAddress.set(normalize(b.upstream), b);
    for (const [address, name] of Object.entries(aliases)) {
      const b = backends.find((x) => x.name === name);
      if (b) this.byAddress.set(normalize(address), b);
    }
  }

  /** The backend for one logged address, if it is one of ours. */
  backendOf(address: string): AttributedBackend | undefined {
    return this.byAddress.get(address) ?? this.byAddress.get(normalize(address));
  }

  /**
   * The attempts of one request, in order. A request nginx answered itself ($upstream_addr empty
   * or "-") has none. Missing positions in the status/time lists count as "-".
   */
  attempts(entry: Pick<AccessLogEntry, 'upstreamAddr' | 'upstreamStatus' | 'upstreamResponseTime'>): Attempt[] {
    if (entry.upstreamAddr === '' || entry.upstreamAddr === '-') return [];
    // Split on ", " and " : " alike: the group boundary does not change who served an attempt.
    const addrs = splitAddresses(entry.upstreamAddr);
    const statuses = splitAddresses(entry.upstreamStatus);
    const times = splitAddresses(entry.upstreamResponseTime);
    return addrs.map((address, i) => {
      const b = this.backendOf(address);
      const s = statuses[i];
      const t = times[i];
      const status = s !== undefined && /^\d{3}$/.test(s) ? Number(s) : undefined;
      const secs = t !== undefined && /^\d+(\.\d+)?$/.test(t) ? Number(t) : undefined;
      return {
        address,
        backend: b?.name,
        side: b ? b.group : 'other',
        status,
        timeMs: secs === undefined ? undefined : Math.round(secs * 1000),
      };
    });
  }
}

/**
 * A field's attempts, split on ", " and " : ". A unix socket address holds a colon ("unix:/run/app.sock"),
 * so the group separator is only recognised with the spaces nginx writes around it.
 */
function splitAddresses(field: string): string[] {
  return field
    .split(/, | : /)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function normalize(address: string): string {
  const a = address.trim().toLowerCase();
  // nginx logs IPv6 as [::1]:8000; configs may write the same. "localhost" is resolved by nginx.
  return a.startsWith('localhost:') ? `127.0.0.1:${a.slice('localhost:'.length)}` : a;
}
