import { backendStatus } from '../core/backends/status';
import type { BackendStatus } from '../core/backends/status';
import { CancelledError, describeError } from '../core/errors';
import { describeHolder } from '../core/exec/hostLock';
import { TransportPool } from '../core/exec/transportFor';
import { rolloutStatus } from '../core/rollout/status';
import type { RolloutStatusView } from '../core/rollout/status';
import { formatSplit } from '../core/traffic/render';
import type { CliCommand } from './cliCommand';
import { EXIT_OK } from './cliCommand';
import { projectConfig, table } from './cliHelpers';

function note(s: BackendStatus): string {
  if (s.error) return s.error;
  if (s.drift) return `drift: deployed ${s.deployed}, still serving ${s.served}`;
  if (!s.probed) return 'no probe URL: served = deployed';
  return '';
}

/** `phar-rollout status`: what every backend serves and has deployed, the live split, the rollout. */
export const statusCommand: CliCommand = {
  name: 'status',
  summary: 'Show every backend (served / deployed version, health, latency, drift), the split on each LB and the rollout state',
  usage: 'phar-rollout status --project DIR [--json]',
  options: {
    project: { type: 'string', short: 'p' },
    json: { type: 'boolean' },
  },
  async run(values, _positionals, ctx) {
    const config = await projectConfig(values);
    const pool = new TransportPool({ log: ctx.log });
    try {
      const [backends, rollout] = await Promise.all([
        backendStatus(config, { transports: pool, signal: ctx.signal, log: ctx.log }),
        rolloutStatus(config, { transports: pool, signal: ctx.signal, log: ctx.log }).catch(
          (err): RolloutStatusView & { error?: string } => {
            if (err instanceof CancelledError) throw err;
            return { loadBalancers: [], error: describeError(err) };
          },
        ),
      ]);
      if (values.json) {
        ctx.stdout(JSON.stringify({ backends, loadBalancers: rollout.loadBalancers, rollout: rollout.state, lock: rollout.lock }, null, 2));
        return EXIT_OK;
      }
      ctx.stdout(
        table(
          ['BACKEND', 'GROUP', 'SERVED', 'DEPLOYED', 'HEALTH', 'LATENCY', 'NOTE'],
          backends.map((s) => [
            s.name,
            s.group,
            s.served ?? '—',
            s.deployed ?? '—',
            s.healthy ? (s.drift ? 'drift' : 'ok') : (s.errorKind ?? 'down'),
            s.latencyMs !== undefined ? `${Math.round(s.latencyMs)} ms` : '—',
            note(s),
          ]),
        ),
      );
      for (const lb of rollout.loadBalancers) {
        ctx.stdout(
          `LB ${lb.name} (${lb.host}): ${lb.split !== undefined ? `canary ${formatSplit(lb.split)} %${lb.mode ? `, ${lb.mode}` : ''}` : (lb.error ?? 'unknown')}`,
        );
      }
      if (rollout.state) ctx.stdout(`rollout: ${rollout.state.status}${rollout.state.message ? ` — ${rollout.state.message}` : ''}`);
      if (rollout.lock) ctx.stdout(`locked by ${describeHolder(rollout.lock)}`);
      return EXIT_OK;
    } finally {
      await pool.dispose();
    }
  },
};
