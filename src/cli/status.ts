import { backendStatus } from '../core/backends/status';
import type { BackendStatus } from '../core/backends/status';
import { CancelledError, describeError } from '../core/errors';
import { describeHolder } from '../core/exec/hostLock';
import { TransportPool } from '../core/exec/transportFor';
import { rolloutStatus } from '../core/rollout/status';
import { runnerHealth } from '../core/rollout/run';
import type { LbStatus, RolloutStatusView } from '../core/rollout/status';
import { formatSplit } from '../core/traffic/render';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { projectOrAppliedConfig, table, terminalText } from './cliHelpers';
import { safeText } from '../core/safeText';

function note(s: BackendStatus): string {
  if (s.error) return safeText(s.error);
  if (s.drift) return `drift: deployed ${safeText(s.deployed, 40)}, still serving ${safeText(s.served, 40)}`;
  if (!s.probed) return 'no probe URL: served = deployed';
  return '';
}

/** One LB: the split nginx serves (not the file's header), and any disagreement with the fix. */
function lbLine(lb: LbStatus): string {
  const mode = lb.mode ? `, ${safeText(lb.mode, 40)}` : '';
  const served =
    lb.split !== undefined
      ? `canary ${formatSplit(lb.split)} % live${mode}${lb.live ? '' : ' (file header: this file has no status endpoint yet)'}`
      : lb.error !== undefined && lb.fileSplit === undefined
        ? safeText(lb.error)
        : `live split unknown (${safeText(lb.liveError ?? lb.error ?? 'no answer')})`;
  return `LB ${lb.name} (${safeText(lb.host, 80)}): ${served}${lb.drift ? `\n  ${terminalText(lb.drift)}` : ''}`;
}

/** `phar-rollout status`: what every backend serves and has deployed, the live split, the rollout. */
export const statusCommand = defineCommand({
  name: 'status',
  summary: 'Show every backend (served / deployed version, health, latency, drift), the split on each LB and the rollout state',
  usage: 'phar-rollout status --project DIR [--json]',
  options: {
    ...projectOption,
    ...jsonOption,
  },
  async run(values, _positionals, ctx) {
    // With rollout.json broken, status still shows what is live, from the last applied configuration.
    const { config, fallback } = await projectOrAppliedConfig(values, ctx);
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
        ctx.stdout(
          JSON.stringify(
            {
              backends,
              loadBalancers: rollout.loadBalancers,
              rollout: rollout.state,
              lock: rollout.lock,
              ...(rollout.store ? { rolloutStore: rollout.store } : {}),
              ...(rollout.stateError ? { rolloutError: rollout.stateError } : {}),
              ...(fallback ? { configErrors: fallback.configErrors.map((e) => e.format()), configSource: fallback.source } : {}),
            },
            null,
            2,
          ),
        );
        return EXIT_OK;
      }
      ctx.stdout(
        table(
          ['BACKEND', 'GROUP', 'SERVED', 'DEPLOYED', 'HEALTH', 'LATENCY', 'NOTE'],
          backends.map((s) => [
            s.name,
            s.group,
            s.served !== undefined ? safeText(s.served, 40) : '—',
            s.deployed !== undefined ? safeText(s.deployed, 40) : '—',
            s.healthy ? (s.drift ? 'drift' : 'ok') : s.errorKind !== undefined ? safeText(s.errorKind, 40) : 'down',
            s.latencyMs !== undefined ? `${Math.round(s.latencyMs)} ms` : '—',
            note(s),
          ]),
        ),
      );
      for (const lb of rollout.loadBalancers) ctx.stdout(lbLine(lb));
      if (fallback)
        ctx.stdout(
          `rollout.json has errors — showing the last applied configuration (${fallback.source}):\n${fallback.configErrors
            .map((e) => `  ${terminalText(e.format())}`)
            .join('\n')}`,
        );
      if (rollout.store?.cached) ctx.stdout(`rollout: this checkout's copy — ${terminalText(rollout.store.cached)}`);
      if (rollout.state)
        ctx.stdout(
          `rollout: ${rollout.state.status}${rollout.state.message ? ` — ${safeText(rollout.state.message)}` : ''}${rollout.state.startedBy ? ` (started by ${safeText(rollout.state.startedBy, 120)})` : ''}`,
        );
      if (rollout.state?.runner) {
        const r = rollout.state.runner;
        const { alive, seenAgoMs } = runnerHealth(r);
        const who = `${safeText(r.user, 120)} on ${safeText(r.host, 120)} (pid ${r.pid})`;
        ctx.stdout(
          alive
            ? `runner: ${who}, last window ${Math.round(seenAgoMs / 1000)} s ago`
            : `runner: gone — ${who} has not judged a window for ${Math.round(seenAgoMs / 1000)} s; "phar-rollout run" picks the rollout up`,
        );
      }
      if (rollout.stateError) ctx.stdout(`rollout: unreadable — ${terminalText(rollout.stateError)}`);
      if ('error' in rollout && rollout.error) ctx.stdout(`rollout: unreadable — ${terminalText(rollout.error)}`);
      if (rollout.lock) ctx.stdout(`locked by ${describeHolder(rollout.lock)}`);
      if (rollout.lockError) ctx.stdout(`lock: unreadable — ${terminalText(rollout.lockError)}`);
      return EXIT_OK;
    } finally {
      await pool.dispose();
    }
  },
});
