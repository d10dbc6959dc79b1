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
  /** sha256 of the phar the server runs, when the probe reports it. */
  servedSha256?: string;
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
  /** Deployed but not (yet) served: the probe answers another build (version, commit or phar sha256) than current/release.json. */
  drift: boolean;
  /** Set when release.json or the probe answer does not have the expected shape: "unreadable: <why>". */
  unreadable?: string;
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
  const unreadable: string[] = [];
  if (probe && !probe.ok) {
    const message = probe.error?.message ?? 'probe failed';
    if (message.startsWith('unreadable: ')) unreadable.push(`probe answer ${message.slice('unreadable: '.length)}`);
    else errors.push(message);
  }
  if (readError) {
    const at = readError.indexOf(' is unreadable: ');
    if (at >= 0) unreadable.push(`current/release.json ${readError.slice(at + ' is unreadable: '.length)}`);
    else errors.push(`cannot read current/release.json: ${readError}`);
  }
  if (unreadable.length) errors.unshift(`unreadable: ${unreadable.join('; ')}`);
  const base = {
    name: b.name,
    group: b.group,
    deployed: release?.version,
    deployedArtifact: release?.id,
    error: errors.length ? errors.join('; ') : undefined,
    unreadable: unreadable.length ? `unreadable: ${unreadable.join('; ')}` : undefined,
  };
  if (!probe) {
    return {
      ...base,
      served: release?.version,
      servedCommit: release?.commit,
      servedSha256: release?.sha256,
      healthy: !!release,
      probed: false,
      drift: false,
    };
  }
  const served = probe.ok ? probe.version : undefined;
  const drift = !!(served && release && !servesBuild({ version: served, commit: probe.commit, sha256: probe.sha256 }, release));
  return {
    ...base,
    served,
    servedCommit: probe.commit,
    servedSha256: probe.sha256,
    healthy: probe.ok,
    probed: true,
    latencyMs: probe.latencyMs,
    errorKind: probe.ok ? undefined : probe.error?.kind,
    drift,
  };
}
