import type { BackendConfig, RolloutConfig } from '../config/rolloutConfig';
import { delay } from '../delay';
import { OperationError } from '../errors';
import type { TransportPool } from '../exec/transportFor';
import type { Logger } from '../log';
import { applyFiles, readSplits, renderFor } from '../traffic/apply';

/** Seconds waited for in-flight requests after a backend left rotation, when the backend sets none. */
export const DEFAULT_DRAIN_SECONDS = 5;

/** True when a restart of `b` should be preceded by a drain: it has load balancers to leave and did not opt out. */
export function drains(config: Pick<RolloutConfig, 'loadBalancers'>, b: BackendConfig): boolean {
  return b.drain !== false && config.loadBalancers.length > 0;
}

/**
 * Takes backends out of rotation on every LB of the project and puts them back, for one deploy or
 * rollback run. Each LB keeps the split its live file carries; the drained backends are written
 * `down` and the file goes through applyFiles (nginx -t before reload, previous file back on any
 * failure). Changes are serialised, so two backends drained at once never overwrite each other.
 */
export class Drainer {
  private readonly drained = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: RolloutConfig,
    private readonly pool: TransportPool,
    private readonly log: Logger,
  ) {}

  /** Backends out of rotation now (by name). */
  get current(): ReadonlySet<string> {
    return this.drained;
  }

  /** Out of rotation on every LB (confirmed in each live file), then waits `drainSeconds` for requests in flight. */
  async drain(b: BackendConfig, signal?: AbortSignal): Promise<void> {
    await this.change(b, true);
    const seconds = b.drainSeconds ?? DEFAULT_DRAIN_SECONDS;
    this.log.info(
      `${b.name}: out of rotation on ${this.config.loadBalancers.length} load balancer(s); waiting ${seconds} s for requests in flight`,
    );
    await delay(seconds * 1000, signal);
  }

  /** Back in rotation on every LB. Runs even after a cancel: a backend must not stay drained. */
  async undrain(b: BackendConfig): Promise<void> {
    if (!this.drained.has(b.name)) return;
    await this.change(b, false);
    this.log.info(`${b.name}: back in rotation`);
  }

  private change(b: BackendConfig, down: boolean): Promise<void> {
    const next = this.chain.then(() => this.write(b, down));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(b: BackendConfig, down: boolean): Promise<void> {
    const wanted = new Set(this.drained);
    if (down) wanted.add(b.name);
    else wanted.delete(b.name);
    const transportOf = (lb: (typeof this.config.loadBalancers)[number]) => this.pool.get(lb);
    const live = await readSplits(this.config, transportOf);
    const step = down ? 'drain' : 'undrain';
    const bad = live.find((l) => l.split === undefined);
    if (bad)
      throw new OperationError(
        `cannot take ${b.name} out of rotation: load balancer "${bad.name}" carries no split Phar Rollout wrote (${bad.error ?? 'unreadable'}). Set the split once (\`phar-rollout ramp\`), or set "drain": false on ${b.name}.`,
        { step, backend: b.name, lb: bad.name },
      );
    const time = new Date();
    const changes = this.config.loadBalancers.map((lb, i) => ({
      lb,
      transport: transportOf(lb),
      text: renderFor(this.config, lb, live[i].split!, time, wanted),
    }));
    await applyFiles(changes, { log: this.log });
    // Confirmed: every live file now carries the server as we wrote it (down or not).
    const after = await readSplits(this.config, transportOf);
    for (const a of after) {
      const lines = serverText(a.text ?? '', b.name);
      if (lines && /\sdown;/.test(lines) !== down)
        throw new OperationError(`load balancer "${a.name}" does not carry ${b.name} ${down ? 'down' : 'in rotation'} after the reload`, {
          step,
          backend: b.name,
          lb: a.name,
        });
    }
    if (down) this.drained.add(b.name);
    else this.drained.delete(b.name);
  }
}

/** The `server` lines of `name` in a rendered file. */
function serverText(text: string, name: string): string {
  return text
    .split('\n')
    .filter((l) => /^\s*server\s/.test(l) && l.includes(`# ${name} (`))
    .join('\n');
}
