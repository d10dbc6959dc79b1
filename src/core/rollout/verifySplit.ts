import { backendStatus } from '../backends/status';
import type { RolloutConfig } from '../config/rolloutConfig';
import { InputError, noLoadBalancerError, throwIfAborted } from '../errors';
import { readSplits } from '../traffic/apply';
import { withContext } from './context';
import type { RolloutOptions } from './context';
import { sample } from './gates';

export interface VersionShare {
  version: string;
  count: number;
  /** Percent of the answered requests. */
  share: number;
  /** Which group serves this version (by probing the backends); "both" when they agree. */
  side?: 'stable' | 'canary' | 'both';
}

export interface VerifyLbResult {
  lb: string;
  url?: string;
  /** The split the LB's live file carries. */
  configured?: number;
  requests: number;
  /** Requests that failed or answered without a version. */
  errors: number;
  versions: VersionShare[];
  /** Observed canary percent, when stable and canary serve different versions. */
  canaryShare?: number;
  /** canaryShare − configured, in points. */
  deviation?: number;
  note?: string;
}

export interface VerifyResult {
  loadBalancers: VerifyLbResult[];
  stableVersions: string[];
  canaryVersions: string[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Sends `requests` requests through each LB's `url`, reads the version of every answer (X-App-Version,
 * else the JSON `version`), and compares the canary's observed share with the split the LB carries.
 * Versions are told apart by probing the backends of each group. Changes nothing; no lock.
 */
export async function verifySplit(
  config: RolloutConfig,
  request: { requests: number; concurrency?: number },
  options: RolloutOptions = {},
): Promise<VerifyResult> {
  if (!Number.isInteger(request.requests) || request.requests < 1 || request.requests > 1_000_000) {
    throw new InputError(`${request.requests} is not a number of requests`, { hint: 'Give a whole number between 1 and 1000000.' });
  }
  if (config.loadBalancers.length === 0) throw noLoadBalancerError();
  return withContext(config, options, async (ctx) => {
    const [status, live] = await Promise.all([
      backendStatus(config, { transports: ctx.pool, signal: ctx.signal, log: ctx.log }),
      readSplits(config, (lb) => ctx.pool.get(lb), { signal: ctx.signal }),
    ]);
    const versionsOf = (group: string) => [...new Set(status.filter((s) => s.group === group && s.served).map((s) => s.served as string))];
    const stableVersions = versionsOf('stable');
    const canaryVersions = versionsOf('canary');
    const sideOf = (v: string): VersionShare['side'] => {
      const s = stableVersions.includes(v);
      const c = canaryVersions.includes(v);
      return s && c ? 'both' : s ? 'stable' : c ? 'canary' : undefined;
    };
    const results: VerifyLbResult[] = [];
    const total = config.loadBalancers.length * request.requests;
    for (const [i, lb] of config.loadBalancers.entries()) {
      const configured = live[i].split;
      if (!lb.url) {
        results.push({
          lb: lb.name,
          configured,
          requests: 0,
          errors: 0,
          versions: [],
          note: 'no "url" in rollout.json for this load balancer',
        });
        continue;
      }
      const counts = new Map<string, number>();
      let errors = 0;
      let sent = 0;
      {
        // A fresh connection per request (no agent): node's Agent reuses sockets when requests queue,
        // and an idle keep-alive connection closed by an nginx reload would read as a failure.
        const worker = async () => {
          while (sent < request.requests) {
            sent++;
            throwIfAborted(ctx.signal);
            const s = await sample(lb.url!, { timeoutMs: config.probe.timeoutMs, signal: ctx.signal });
            if (!s.ok || !s.version) errors++;
            else counts.set(s.version, (counts.get(s.version) ?? 0) + 1);
            const done = results.length * request.requests + sent;
            if (done % Math.max(1, Math.floor(total / 20)) === 0)
              ctx.onProgress({ message: `${lb.name}: ${sent}/${request.requests}`, increment: 100 / 20 });
          }
        };
        await Promise.all(Array.from({ length: Math.min(request.requests, request.concurrency ?? 8) }, worker));
      }
      const answered = [...counts.values()].reduce((a, b) => a + b, 0);
      const versions = [...counts.entries()]
        .map(([version, count]) => ({ version, count, share: answered ? round2((count / answered) * 100) : 0, side: sideOf(version) }))
        .sort((a, b) => b.count - a.count);
      const r: VerifyLbResult = { lb: lb.name, url: lb.url, configured, requests: request.requests, errors, versions };
      if (versions.some((v) => v.side === 'both'))
        r.note = 'stable and canary serve the same version: the split cannot be told from the answers';
      else if (answered > 0) {
        const canary = versions.filter((v) => v.side === 'canary').reduce((a, v) => a + v.count, 0);
        r.canaryShare = round2((canary / answered) * 100);
        if (configured !== undefined) r.deviation = round2(r.canaryShare - configured);
        const unknown = versions.filter((v) => !v.side);
        if (unknown.length) r.note = `answers from versions no backend probe reported: ${unknown.map((v) => v.version).join(', ')}`;
      }
      if (config.traffic.mode === 'sticky') r.note = `${r.note ? r.note + '; ' : ''}sticky mode: one client (this one) stays on one side`;
      results.push(r);
    }
    return { loadBalancers: results, stableVersions, canaryVersions };
  });
}
