import { LocalTransport } from './localTransport';
import { SshTransport } from './sshTransport';
import type { SshOptions } from './sshTransport';
import type { Transport } from './transport';

/** Anything that may live on another host: a BackendConfig or a LoadBalancerConfig. */
export interface HostTarget {
  /** ssh destination; absent means this machine. */
  ssh?: string;
}

/**
 * Hands out one transport per host and shares it: every backend and LB on the same ssh
 * destination uses one multiplexed connection. Dispose the pool when the operation ends.
 */
export class TransportPool {
  private readonly local = new LocalTransport();
  private readonly remote = new Map<string, SshTransport>();

  constructor(private readonly options: SshOptions = {}) {}

  /** The transport for `target`: local without `ssh`, else the shared ssh transport of that destination. */
  get(target: HostTarget): Transport {
    if (!target.ssh) return this.local;
    let t = this.remote.get(target.ssh);
    if (!t) {
      t = new SshTransport(target.ssh, this.options);
      this.remote.set(target.ssh, t);
    }
    return t;
  }

  /** Closes every ssh master this pool opened. */
  async dispose(): Promise<void> {
    const all = [...this.remote.values()];
    this.remote.clear();
    await Promise.all(all.map((t) => t.dispose()));
  }
}

/** The transport for a backend or LB, from `pool` (shared connections). */
export function transportFor(target: HostTarget, pool: TransportPool): Transport {
  return pool.get(target);
}
