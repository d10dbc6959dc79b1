import type { BackendConfig, Group, RolloutConfig } from '../config/rolloutConfig';
import { CancelledError, describeError } from '../errors';
import type { Logger } from '../log';
import { TransportPool } from '../exec/transportFor';
import type { SshOptions } from '../exec/sshTransport';
import { probeVersion, servesBuild } from './probe';
import type { ProbeResult } from './probe';
import { readCurrentRelease } from './releases';
import type { ReleaseInfo } from './releases';

/** One backend as every view (tree, CLI table, JSON) shows it. */
export interface BackendStatus {
  name: string;
  group: Group;
  /** The version the probe answered; without a probe URL, the deployed version. */
  served?: string;
  servedCommit?: string;
  /** Version in `current/release.json`. */
  deployed?: string;
  /** Artifact id of the current release. */
  deployedArtifact?: string;
  /** Probe answered with a version (without a probe URL: release.json was readable). */
  healthy: boolean;
  /** False when the backend has no probe URL (served is then the deployed version). */
  probed: boolean;
  latencyMs?: number;
  error?: string;
  errorKind?: string;
  /** Deployed but not (yet) served: the probe answers another build than current/release.json. */
  drift: boolean;
}

export interface StatusOptions {
  signal?: AbortSignal;
  log?: Logger;
  transports?: TransportPool;
  ssh?: SshOptions;
  /** Only these backends (default: all in the config). */
  backends?: readonly BackendConfig[];
}

/**
 * Probes every backend and reads its `current/release.json`, all at once, and says per backend
 * what it serves, what it has deployed, whether it is healthy and whether the two drift.
 * Never throws for one backend's trouble (it is in `error`); throws CancelledError on abort.
 */
export async function backendStatus(config: RolloutConfig, options: StatusOptions = {}): Promise<BackendStatus[]> {
  const pool = options.transports ?? new TransportPool({ ...options.ssh, log: options.log });
  try {
    return await Promise.all(
      (options.backends ?? config.backends).map(async (b): Promise<BackendStatus> => {
        const [probe, deployed] = await Promise.all([
          b.probe ? probeVersion(b.probe, { timeoutMs: config.probe.timeoutMs, signal: options.signal }) : Promise.resolve(undefined),
          readCurrentRelease(pool.get(b), b.dir, { signal: options.signal }).then(
            (r) => ({ release: r, error: undefined as string | undefined }),
            (err) => {
              if (err instanceof CancelledError) throw err;
              return { release: undefined, error: describeError(err) };
            },
          ),
        ]);
        return statusOf(b, probe, deployed.release, deployed.error);
      }),
    );
  } finally {
    if (!options.transports) await pool.dispose();
  }
}

/** Combines a probe answer and a release.json into a status (pure; exported for tests). */
export function statusOf(
  b: Pick<BackendConfig, 'name' | 'group'>,
  probe: ProbeResult | undefined,
  release: ReleaseInfo | undefined,
  readError?: string,
): BackendStatus {
  const errors: string[] = [];
  if (probe && !probe.ok) errors.push(probe.error?.message ?? 'probe failed');
  if (readError) errors.push(`cannot read current/release.json: ${readError}`);
  const base = {
    name: b.name,
    group: b.group,
    deployed: release?.version,
    deployedArtifact: release?.id,
    error: errors.length ? errors.join('; ') : undefined,
  };
  if (!probe) {
    return { ...base, served: release?.version, servedCommit: release?.commit, healthy: !!release, probed: false, drift: false };
  }
  const served = probe.ok ? probe.version : undefined;
  const drift = !!(served && release && !servesBuild({ version: served, commit: probe.commit }, release));
  return {
    ...base,
    served,
    servedCommit: probe.commit,
    healthy: probe.ok,
    probed: true,
    latencyMs: probe.latencyMs,
    errorKind: probe.ok ? undefined : probe.error?.kind,
    drift,
  };
}
